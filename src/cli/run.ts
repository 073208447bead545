/** `auditshipper run [-c FILE]`: run the agent until SIGTERM/SIGINT (or the end of finite input). */
import { EMBEDDED_DEFAULT, resolveConfigPath } from '../config/index.js';
import { startAgent } from '../daemon.js';
import { governHeapGrowing, HEAP_GROWING_FLAG, tuneV8 } from '../v8-tuning.js';
import { createLogger, EXIT, loadOrReport } from './common.js';

export async function runCommand(opts: { config?: string }): Promise<number> {
  const path = resolveConfigPath(opts.config);
  const loaded = loadOrReport(path);
  if (typeof loaded === 'number') return loaded;
  const logger = createLogger(loaded.config.log.level);
  const tuned = tuneV8();
  // The doubled heap growing factor only while busy; a factor from the command line stays.
  const heap = tuned.includes(HEAP_GROWING_FLAG) ? governHeapGrowing() : null;
  try {
    const agent = await startAgent(loaded, {
      logger,
      stdin: process.stdin,
      configPath: path === EMBEDDED_DEFAULT ? null : path,
    });
    return await agent.done;
  } catch (err) {
    // Start-up failures (data_dir not writable, port in use, ...) are runtime failures.
    logger.fatal({ err: (err as Error).message }, 'cannot start');
    return EXIT.runtime;
  } finally {
    heap?.stop();
  }
}
