/** `auditshipper validate [-c FILE]`: exit 0 if the config is valid, else file:line:col messages and exit 1. */
import { formatIssue } from '../config/index.js';
import { EXIT, loadOrReport, out } from './common.js';

export function validateCommand(opts: { config?: string }): number {
  const loaded = loadOrReport(opts.config);
  if (typeof loaded === 'number') return loaded;
  for (const w of loaded.warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
  const c = loaded.config;
  out(
    `${loaded.file}: ok (${Object.keys(c.sources).length} sources, ${Object.keys(c.sinks).length} sinks, ` +
      `${c.routes.length} routes${loaded.warnings.length ? `, ${loaded.warnings.length} warnings` : ''})`,
  );
  return EXIT.ok;
}
