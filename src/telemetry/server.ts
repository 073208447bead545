/**
 * The agent's HTTP API: GET /metrics (Prometheus text), /healthz (alive and the buffer
 * writable), /readyz (config loaded, sources started, no sink unhealthy for too long).
 * Bodies are JSON that say what is wrong, never event content or secrets.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthReport {
  ok: boolean;
  checks: Record<string, { ok: boolean; message?: string }>;
}

export interface ApiHandlers {
  registry: Registry;
  /** Refresh gauges that are sampled rather than counted, just before a scrape. */
  beforeScrape?(): void;
  health(): HealthReport;
  ready(): HealthReport;
}

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  return { host, port: Number(listen.slice(i + 1)) };
}

export async function startApiServer(
  listen: string,
  h: ApiHandlers,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const json = (r: HealthReport) => {
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: r.ok ? 'ok' : 'fail', checks: r.checks }) + '\n');
    };
    if (url === '/metrics') {
      h.beforeScrape?.();
      h.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': h.registry.contentType });
          res.end(text);
        })
        .catch((err: Error) => {
          res
            .writeHead(500, { 'content-type': 'text/plain' })
            .end(`metrics error: ${err.message}\n`);
        });
    } else if (url === '/healthz') {
      json(h.health());
    } else if (url === '/readyz') {
      json(h.ready());
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /metrics, /healthz, /readyz\n');
    }
  });
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
