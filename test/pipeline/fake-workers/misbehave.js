// Misbehaving stage workers for the failure tests (one entry file per mode, since a worker's
// URL cannot carry a query). Each answers `ready` like the real worker, then on its first
// slice does what its mode says:
//   exit      the thread exits (as after a fatal error)
//   throw     an uncaught exception
//   fail      it reports that the stages threw (the real worker's `failed` message)
//   noready   it never says ready (slices must not be sent to it)
import process from 'node:process';
import { parentPort } from 'node:worker_threads';

export function misbehave(mode) {
  if (mode !== 'noready') parentPort.postMessage({ type: 'ready', gen: 0 });
  parentPort.on('message', (m) => {
    if (m.type !== 'run') return;
    if (mode === 'exit') process.exit(3);
    if (mode === 'throw') throw new Error('boom');
    if (mode === 'fail') parentPort.postMessage({ type: 'failed', id: m.id, error: 'TypeError' });
  });
}
