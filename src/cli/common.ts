/**
 * What every command shares: exit codes (DESIGN.md CLI contract), config loading with
 * file:line:col errors, the logger (pino, to stderr: stdout is for events and command output).
 */
import { pino, type Logger } from 'pino';
import {
  ConfigError,
  formatIssue,
  loadConfigFile,
  resolveConfigPath,
  type LoadedConfig,
} from '../config/index.js';

export const EXIT = { ok: 0, invalid: 1, usage: 2, runtime: 3 } as const;

export class UsageError extends Error {}

export function createLogger(level: string): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** Load the config for a command; on failure print every issue and return the exit code. */
export function loadOrReport(flag: string | undefined): LoadedConfig | number {
  const path = resolveConfigPath(flag);
  try {
    return loadConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) process.stderr.write(formatIssue(i) + '\n');
      process.stderr.write(
        `${path}: invalid config (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'})\n`,
      );
      return EXIT.invalid;
    }
    throw err;
  }
}

export function out(line: string): void {
  process.stdout.write(line + '\n');
}
