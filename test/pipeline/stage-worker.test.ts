import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildPipelineParts } from '../../src/components.js';
import {
  startStageWorker,
  StageWorkerError,
  wantStageWorker,
  type StageWorker,
} from '../../src/pipeline/stage-worker.js';
import { processRecords } from '../../src/pipeline/stages.js';
import { capture, mixedLines, recordsOf, richConfig, TS_WORKER } from './fixtures.js';

const fake = (mode: string) => new URL(`./fake-workers/${mode}.js`, import.meta.url);

const TIME = '2026-11-21T10:00:00.123Z';
const input = (lines: string[], source = 'app') => ({
  source,
  file: '/x/a.log',
  streamId: 'stream-1',
  records: recordsOf(lines, 0, TIME),
});

const open: StageWorker[] = [];
function start(url: URL, logger = capture().logger, config = richConfig()) {
  const w = startStageWorker({ config, logger, url });
  open.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
});

const ready = (w: StageWorker) =>
  vi.waitFor(() => expect(w.state).toBe('ready'), { timeout: 20_000, interval: 20 });

describe('wantStageWorker', () => {
  it('is opt-in: only AUDITSHIPPER_WORKERS=1 turns it on', () => {
    expect(wantStageWorker({}, 2)).toBe(false);
    expect(wantStageWorker({}, 1)).toBe(false);
    expect(wantStageWorker({ AUDITSHIPPER_WORKERS: '0' }, 8)).toBe(false);
    expect(wantStageWorker({ AUDITSHIPPER_WORKERS: '1' }, 1)).toBe(true);
    expect(wantStageWorker({ AUDITSHIPPER_WORKERS: ' 1 ' }, 1)).toBe(true);
    expect(wantStageWorker({ AUDITSHIPPER_WORKERS: 'lots' }, 1)).toBe(false);
    expect(wantStageWorker({ AUDITSHIPPER_WORKERS: '' }, 2)).toBe(false);
  });
});

describe('stage worker', () => {
  it('the Config survives a structured clone unchanged', () => {
    const cfg = richConfig();
    expect(structuredClone(cfg)).toStrictEqual(cfg);
  });

  it('returns what processRecords gives on this thread, byte for byte', async () => {
    const w = start(TS_WORKER);
    await ready(w);
    const slice = input(mixedLines(300, 7));
    const done = await w.run(slice);
    expect(done.ms).toBeGreaterThanOrEqual(0);
    expect(done.doneAt).toBeGreaterThan(0);
    const here = processRecords(buildPipelineParts(richConfig()), slice);
    // Bodies cross as UTF-8 bytes (the worker transfers its buffers); compare them as text.
    const asText = (items: typeof here.items) =>
      JSON.stringify(
        items.map((i) => {
          expect(typeof i.body).not.toBe('string');
          return { ...i, body: Buffer.from(i.body as Uint8Array).toString('utf8') };
        }),
      );
    expect(asText(done.result.items)).toBe(asText(here.items));
    expect(done.result.items.length).toBeGreaterThan(100);
    expect(done.result.sinks).toEqual(here.sinks);
    expect([...done.result.counters.byRoute]).toEqual([...here.counters.byRoute]);
    expect([...done.result.counters.byRule]).toEqual([...here.counters.byRule]);
    expect(done.result.counters.malformedNotes).toEqual(here.counters.malformedNotes);
    expect(w.pendingRecords).toBe(0);
  });

  it('uses a new config for slices sent after reconfigure, the old one before', async () => {
    const w = start(TS_WORKER);
    await ready(w);
    const line = JSON.stringify({ id: 1, userId: 1, actionType: 'QUERY_RUN', createdAt: TIME });
    const before = w.run(input([line]));
    w.reconfigure(richConfig({ routes: [{ name: 'only', to: ['logs'] }] }));
    const after = w.run(input([line]));
    expect((await before).result.items[0]!.sinks).toEqual(['a']);
    expect((await after).result.items[0]!.sinks).toEqual(['logs']);
    expect([...(await after).result.counters.byRoute]).toEqual([['only', 1]]);
  });

  it('reports a stage error for one slice and stays usable', async () => {
    const w = start(TS_WORKER);
    await ready(w);
    const err = await w.run(input(['{}'], 'unknown-source')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageWorkerError);
    expect((err as StageWorkerError).kind).toBe('slice');
    expect(w.usable).toBe(true);
    expect((await w.run(input(['{}']))).result.counters.nonAudit).toBe(1);
  });

  it('a worker that cannot start is logged once and never used', async () => {
    const log = capture();
    const w = start(new URL('./no-such-worker.js', import.meta.url), log.logger);
    expect(w.usable).toBe(false);
    await vi.waitFor(() => expect(w.state).toBe('failed'), { timeout: 10_000 });
    expect(log.errors()).toHaveLength(1);
    const err = await w.run(input(['{}'])).catch((e: unknown) => e);
    expect((err as StageWorkerError).kind).toBe('worker');
  });

  it('a worker that never says ready is not used', async () => {
    const w = start(fake('noready'));
    await new Promise((r) => setTimeout(r, 200));
    expect(w.state).toBe('starting');
    expect(w.usable).toBe(false);
  });

  for (const mode of ['exit', 'throw'] as const) {
    it(`a worker that dies on a slice (${mode}) rejects it, logs one error without content`, async () => {
      const log = capture();
      const w = start(fake(mode), log.logger);
      await ready(w);
      const secret = 'Bearer sk-live-abcdefghijklmnop';
      const a = w.run(input([`{"msg":"${secret}"}`]));
      const b = w.run(input(['{}']));
      for (const p of [a, b]) {
        const err = await p.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StageWorkerError);
        expect((err as StageWorkerError).kind).toBe('worker');
      }
      expect(w.state).toBe('failed');
      expect(w.usable).toBe(false);
      expect(w.pendingRecords).toBe(0);
      await new Promise((r) => setTimeout(r, 50));
      expect(log.errors()).toHaveLength(1);
      expect(JSON.stringify(log.lines)).not.toContain('sk-live');
      const again = await w.run(input(['{}'])).catch((e: unknown) => e);
      expect((again as StageWorkerError).kind).toBe('worker');
    });
  }

  it('close() rejects slices in flight, logs no error, and is idempotent', async () => {
    const log = capture();
    const w = start(TS_WORKER, log.logger);
    await ready(w);
    const p = w.run(input(mixedLines(200))).then(
      () => null,
      (e: unknown) => e,
    );
    await w.close();
    const err = await p;
    // Either it finished before the terminate or it was rejected as 'worker'; never lost.
    if (err !== null) expect((err as StageWorkerError).kind).toBe('worker');
    expect(w.state).toBe('closed');
    await w.close();
    expect(log.errors()).toHaveLength(0);
  });

  it('does not keep the process alive once no slice is in flight', () => {
    const src = fileURLToPath(new URL('../../src/pipeline/stage-worker.ts', import.meta.url));
    const loader = new URL('./ts-loader.js', import.meta.url).href;
    const script = `
      import { register } from 'node:module';
      register(${JSON.stringify(loader)});
      const { startStageWorker } = await import(${JSON.stringify(src)});
      const config = ${JSON.stringify(richConfig())};
      const logger = { error: (o) => console.error(JSON.stringify(o)), debug: () => {} };
      const w = startStageWorker({ config, logger, url: new URL(${JSON.stringify(TS_WORKER.href)}) });
      const t = setInterval(async () => {
        if (w.state === 'starting') return;
        clearInterval(t);
        if (w.state !== 'ready') return console.log(w.state);
        const r = await w.run({ source: 'app', file: null, streamId: 's', records: [{ text: '{}', offset: 0 }] });
        console.log('done', r.result.counters.nonAudit);
      }, 10);
    `;
    // A file, not `-e`: a worker inherits the parent's execArgv (`--input-type` would fail it).
    const dir = mkdtempSync(join(tmpdir(), 'as-worker-'));
    const file = join(dir, 'alive.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('done 1');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('the stage worker module', () => {
  it('loads none of the agent modules the worker does not use (sinks, HTTP client, watcher, SQLite)', () => {
    const worker = fileURLToPath(new URL('../../dist/pipeline/worker.js', import.meta.url));
    const parts = fileURLToPath(new URL('../../dist/pipeline/parts.js', import.meta.url));
    // Import what the worker imports (worker.js itself needs a parent port) and list every
    // CommonJS module that got loaded: the dependencies the worker's isolate pays for.
    const script = [
      `import ${JSON.stringify(parts)};`,
      `import ${JSON.stringify(fileURLToPath(new URL('../../dist/pipeline/stages.js', import.meta.url)))};`,
      `import { createRequire } from 'node:module';`,
      `console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const loaded = JSON.parse(r.stdout) as string[];
    for (const heavy of ['undici', 'chokidar', 'better-sqlite3', 'prom-client', 'pino'])
      expect(loaded.filter((p) => p.includes(`/node_modules/${heavy}/`))).toEqual([]);
    // The worker module imports exactly these two of the project's modules.
    const src = readFileSync(worker, 'utf8');
    const imports = [...src.matchAll(/from '(\.[^']+)'/g)].map((m) => m[1]).sort();
    expect(imports).toEqual(['./parts.js', './stages.js']);
  });
});
