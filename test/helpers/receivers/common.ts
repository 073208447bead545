/**
 * The machinery shared by the fake receivers: an HTTP(S) server on 127.0.0.1 (port 0 unless
 * told), request recording, body decoding, one-shot failures (`failNext`), persistent modes
 * (`setMode`: hang, reset, fixed status, delay), and stop/restart on the same port to play a
 * receiver outage. Each receiver (datadog.ts, splunk.ts, generic.ts) adds its API's rules.
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gunzipSync, inflateSync } from 'node:zlib';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Body bytes as they came over the wire (compressed when Content-Encoding said so). */
  wireBytes: number;
  /** Decoded body. */
  body: Buffer;
  /** Status answered; 0 when the request was hung or its connection reset. */
  status: number;
  /** For TLS servers: whether the client presented a certificate our CA signed, and its CN. */
  clientAuthorized?: boolean;
  clientCN?: string;
}

export interface Reply {
  status: number;
  body?: string | object;
  headers?: Record<string, string>;
}

export interface FailOptions {
  /** How many consecutive requests get this answer (default 1). */
  times?: number;
  /** Sent as the Retry-After header (seconds as a number, or any string such as an HTTP date). */
  retryAfter?: string | number;
  /** Response body; default: the receiver's usual error body for the status. */
  body?: string | object;
  headers?: Record<string, string>;
  /** Splunk only: the HEC body code to answer with. */
  code?: number;
}

export type ReceiverMode =
  | 'normal'
  /** Read the request, never answer (the client's timeout fires). */
  | 'hang'
  /** Destroy the connection as soon as a request arrives (a network error for the client). */
  | 'reset'
  /** Answer every request with this status (an outage that still speaks HTTP). */
  | ({ status: number } & Omit<FailOptions, 'times'>)
  /** Answer normally, after a delay (a slow receiver). */
  | { delayMs: number };

export interface ServerTls {
  key: string | Buffer;
  cert: string | Buffer;
  /** CA used to verify client certificates (mutual TLS). */
  ca?: string | Buffer;
  /** Ask for a client certificate and refuse the handshake without a valid one. */
  requireClientCert?: boolean;
}

export interface BaseReceiver {
  /** `http://127.0.0.1:PORT` (or https). */
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order, including failed ones. */
  readonly requests: RecordedRequest[];
  readonly requestCount: number;
  /** The next request(s) get this answer, whatever they contain. */
  failNext(status: number, opts?: FailOptions): void;
  /** How every request is treated from now on, until changed. */
  setMode(mode: ReceiverMode): void;
  /** Stop listening (clients get ECONNREFUSED) and drop open connections; state is kept. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
  /** Resolve once `predicate()` holds (checked every 5 ms); rejects after timeoutMs (10 s). */
  waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<void>;
}

export type ReceiverCore = BaseReceiver;

export interface CoreOptions {
  tls?: ServerTls;
  port?: number;
  /** The receiver's API rules. Runs only when no failure or mode overrides the request. */
  handle(req: RecordedRequest): Reply | Promise<Reply>;
  /** The receiver's error body for failNext/setMode without an explicit body. */
  errorBody(status: number, opts: FailOptions): string | object;
  /** Largest accepted (decoded) body. */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY = 64 * 1024 * 1024;

function retryAfterHeader(v: string | number | undefined): Record<string, string> {
  return v === undefined ? {} : { 'retry-after': String(v) };
}

function send(res: ServerResponse, reply: Reply): void {
  const body =
    reply.body === undefined
      ? ''
      : typeof reply.body === 'string'
        ? reply.body
        : JSON.stringify(reply.body);
  const headers: Record<string, string> = {
    ...(typeof reply.body === 'object' ? { 'content-type': 'application/json' } : {}),
    ...reply.headers,
  };
  res.writeHead(reply.status, headers);
  res.end(body);
}

function decode(encoding: string | undefined, raw: Buffer): Buffer | 'unsupported' | 'corrupt' {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  try {
    if (e === 'identity' || e === '') return raw;
    if (e === 'gzip') return gunzipSync(raw);
    if (e === 'deflate') return inflateSync(raw);
  } catch {
    return 'corrupt';
  }
  return 'unsupported';
}

export async function startReceiverCore(opts: CoreOptions): Promise<ReceiverCore> {
  const requests: RecordedRequest[] = [];
  const failures: { status: number; opts: FailOptions; left: number }[] = [];
  const sockets = new Set<Socket>();
  let mode: ReceiverMode = 'normal';
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void handleRequest(req, res).catch(() => {
      if (!res.headersSent) send(res, { status: 500, body: 'receiver error' });
      else res.destroy();
    });
  };

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    let wire = 0;
    let tooBig = false;
    for await (const c of req as AsyncIterable<Buffer>) {
      wire += c.length;
      if (wire > maxBody) tooBig = true;
      else chunks.push(c);
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      wireBytes: wire,
      body: Buffer.alloc(0),
      status: 0,
    };
    const sock = req.socket as Partial<TLSSocket>;
    if (typeof sock.getPeerCertificate === 'function') {
      rec.clientAuthorized = sock.authorized === true;
      const cn = sock.getPeerCertificate().subject?.CN;
      if (typeof cn === 'string') rec.clientCN = cn;
    }
    requests.push(rec);

    const answer = (reply: Reply): void => {
      rec.status = reply.status;
      send(res, reply);
    };

    // Overrides first: they play an outage, whatever the request holds.
    const f = failures[0];
    if (f) {
      if (--f.left <= 0) failures.shift();
      answer({
        status: f.status,
        body: f.opts.body ?? opts.errorBody(f.status, f.opts),
        headers: { ...retryAfterHeader(f.opts.retryAfter), ...f.opts.headers },
      });
      return;
    }
    const m = mode;
    if (m === 'hang') return; // never answered; the socket is destroyed on close/stop
    if (m === 'reset') {
      req.socket.destroy();
      return;
    }
    if (typeof m === 'object' && 'status' in m) {
      answer({
        status: m.status,
        body: m.body ?? opts.errorBody(m.status, m),
        headers: { ...retryAfterHeader(m.retryAfter), ...m.headers },
      });
      return;
    }
    if (typeof m === 'object' && 'delayMs' in m) {
      await new Promise((r) => setTimeout(r, m.delayMs));
      if (res.destroyed) return;
    }

    if (tooBig) {
      answer({ status: 413, body: opts.errorBody(413, {}) });
      return;
    }
    const decoded = decode(req.headers['content-encoding'], Buffer.concat(chunks));
    if (decoded === 'unsupported') {
      answer({ status: 415, body: opts.errorBody(415, {}) });
      return;
    }
    if (decoded === 'corrupt') {
      answer({ status: 400, body: opts.errorBody(400, {}) });
      return;
    }
    rec.body = decoded;
    answer(await opts.handle(rec));
  }

  const server: Server = opts.tls
    ? createHttpsServer(
        {
          key: opts.tls.key,
          cert: opts.tls.cert,
          ...(opts.tls.ca !== undefined ? { ca: opts.tls.ca } : {}),
          requestCert: opts.tls.requireClientCert === true,
          rejectUnauthorized: opts.tls.requireClientCert === true,
        },
        onRequest,
      )
    : createHttpServer(onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // TLS handshake failures are expected in tests (wrong CA, no client cert): stay quiet.
  server.on('tlsClientError', () => undefined);

  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  async function stop(): Promise<void> {
    if (!server.listening) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await closed;
  }

  return {
    url,
    port,
    requests,
    get requestCount() {
      return requests.length;
    },
    failNext(status, o = {}) {
      failures.push({ status, opts: o, left: Math.max(1, o.times ?? 1) });
    },
    setMode(m) {
      mode = m;
    },
    stop,
    async restart() {
      if (server.listening) return;
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    close: stop,
    async waitUntil(predicate, timeoutMs = 10_000) {
      const start = Date.now();
      while (!predicate()) {
        if (Date.now() - start > timeoutMs)
          throw new Error(`receiver: condition not met within ${timeoutMs}ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

/** Object.assign that keeps getters live (Object.assign would snapshot their values). */
export function extendReceiver<T extends object, U extends object>(core: T, extra: U): T & U {
  return Object.defineProperties(core, Object.getOwnPropertyDescriptors(extra)) as T & U;
}
