/**
 * Handing a batch to the pipeline. A batch is only "consumed" once the handler
 * resolves (records and checkpoint committed together, DESIGN.md durability
 * protocol), so a failing handler is retried with the same batch, with backoff,
 * until it succeeds or the source stops: reading that file waits meanwhile
 * (the file is the upstream buffer). Nothing is skipped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { BatchHandler, SourceBatch } from '../types.js';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

/** Name and code of an error, never its message: messages can quote event content. */
export function errorKind(err: unknown): { errorName: string; errorCode?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string'
      ? { errorName: err.name, errorCode: code }
      : { errorName: err.name };
  }
  return { errorName: typeof err };
}

/** Resolves true once the handler accepted the batch, false if `signal` aborted first. */
export async function deliver(
  handler: BatchHandler,
  batch: SourceBatch,
  ctx: { signal: AbortSignal; logger: Logger },
): Promise<boolean> {
  let delay = FIRST_RETRY_MS;
  for (;;) {
    try {
      await handler(batch);
      return true;
    } catch (err) {
      ctx.logger.error(
        { source: batch.source, file: batch.file, retryInMs: delay, ...errorKind(err) },
        'source batch was not stored; retrying the same batch',
      );
      if (ctx.signal.aborted) return false;
      try {
        await sleep(delay, undefined, { signal: ctx.signal });
      } catch {
        return false;
      }
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}
