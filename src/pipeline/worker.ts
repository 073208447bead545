/**
 * The stage worker: runs processRecords() on slices of large batches so parsing, redaction,
 * routing and serialisation use the second core (src/pipeline.ts explains the split).
 *
 * It builds its parts from the Config with the same builder the daemon uses, so its output is
 * byte-identical to the main thread's (keyed hashes use the configured key). It never logs
 * and never reports an error message (messages can quote event content): only error names.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { buildPipelineParts } from './parts.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { processRecords, type PipelineParts } from './stages.js';

const port = parentPort;
if (!port) throw new Error('src/pipeline/worker.ts runs only as a worker thread');

const errorName = (err: unknown) => (err instanceof Error ? err.name : typeof err);
const send = (m: FromWorker) => port.postMessage(m);

let parts: PipelineParts | null = null;
let gen = -1;

const configure = (g: number, config: WorkerInit['config']) => {
  try {
    parts = buildPipelineParts(config);
    gen = g;
    send({ type: 'ready', gen: g });
  } catch (err) {
    parts = null;
    send({ type: 'config_failed', gen: g, error: errorName(err) });
  }
};

port.on('message', (m: ToWorker) => {
  if (m.type === 'config') {
    configure(m.gen, m.config);
    return;
  }
  if (!parts || m.gen !== gen) {
    send({ type: 'failed', id: m.id, error: 'StaleConfig' });
    return;
  }
  const t0 = performance.now();
  try {
    const result = processRecords(parts, m.input);
    const t1 = performance.now();
    // The bodies are views of a few buffers of their own (bodyWriter): hand those over
    // instead of copying them.
    const buffers = new Set<ArrayBuffer>();
    for (const it of result.items)
      if (typeof it.body !== 'string') buffers.add(it.body.buffer as ArrayBuffer);
    const done: FromWorker = {
      type: 'result',
      id: m.id,
      result,
      ms: t1 - t0,
      doneAt: performance.timeOrigin + t1,
    };
    port.postMessage(done, [...buffers]);
  } catch (err) {
    send({ type: 'failed', id: m.id, error: errorName(err) });
  }
});

const init = workerData as WorkerInit;
configure(init.gen, init.config);
