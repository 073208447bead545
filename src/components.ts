/**
 * Config → live components. Shared by the daemon, the dry-run commands and reload, so every
 * path builds parsers, redaction, routes, sources and sinks the same way.
 */
import type { Logger } from 'pino';
import type { SinkConfig, SourceConfig } from './config/schema.js';
import { createFramer } from './framing/index.js';
import { createDemoSource } from './sources/demo.js';
import { createFileSource } from './sources/file/index.js';
import { createStdinSource } from './sources/stdin.js';
import type { Source } from './sources/types.js';
import type { Store } from './store/store.js';
import { createDatadogSink } from './sinks/datadog.js';
import { createFileSink } from './sinks/file.js';
import { createHttpSink } from './sinks/http.js';
import { createSplunkHecSink } from './sinks/splunk-hec.js';
import { createStdoutSink } from './sinks/stdout.js';
import type { SinkDriver } from './sinks/types.js';
import { HOST } from './host.js';
import { buildParser, buildPipelineParts } from './pipeline/parts.js';

export { HOST, buildParser, buildPipelineParts };

/**
 * When this buffer first ran a release that deletes ended files' checkpoints (recorded on
 * first use). Checkpoints older than that may be drained files an older release kept.
 */
function checkpointsForgottenSince(store: Store): number {
  const key = 'checkpoints_forgotten_since';
  const v = store.getState(key);
  if (typeof v === 'number') return v;
  const t = Date.now();
  store.setState(key, t);
  return t;
}

export function buildSource(
  name: string,
  src: SourceConfig,
  deps: { store: Store; logger: Logger; stdin?: NodeJS.ReadableStream },
): Source {
  const log = deps.logger.child({ source: name });
  switch (src.type) {
    case 'file': {
      const firstStart = !deps.store.markSourceStarted(name);
      return createFileSource(name, src, {
        loadCheckpoints: () => deps.store.loadCheckpoints(name),
        forgetCheckpoint: (fileId) => deps.store.forgetCheckpoint(name, fileId),
        forgetsSince: checkpointsForgottenSince(deps.store),
        framerFor: () =>
          createFramer(src.format, {
            maxRecordBytes: src.max_line_bytes,
            partialTimeoutMs: src.partial_timeout,
          }),
        logger: log,
        firstStart,
      });
    }
    case 'stdin':
      return createStdinSource(name, src, {
        framerFor: () => createFramer(src.format, { maxRecordBytes: src.max_line_bytes }),
        logger: log,
        input: deps.stdin as never,
      });
    case 'demo':
      return createDemoSource(name, src);
  }
}

export function buildSink(name: string, cfg: SinkConfig, logger: Logger): SinkDriver {
  const log = logger.child({ sink: name });
  switch (cfg.type) {
    case 'file':
      return createFileSink(name, cfg, { logger: log });
    case 'stdout':
      return createStdoutSink(name, cfg);
    case 'datadog':
      return createDatadogSink(name, cfg, { logger: log });
    case 'splunk_hec':
      return createSplunkHecSink(name, cfg, { logger: log });
    case 'http':
      return createHttpSink(name, cfg, { logger: log });
  }
}
