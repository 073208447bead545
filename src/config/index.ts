/**
 * Finding, loading and checking the config: what `run`, `validate`, `route`, `status` and
 * the reload path all share.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRoutes } from '../route/index.js';
import { compilePathTemplate } from '../sinks/file.js';
import { BUILTIN_PROFILES } from '../parse/index.js';
import {
  ConfigError,
  loadConfigText,
  type ConfigIssue,
  type ConfigPath,
  type InterpolationEnv,
} from './load.js';
import { configSchema, type Config } from './schema.js';

export { ConfigError, formatIssue } from './load.js';
export type { Config } from './schema.js';

/** The package root (…/dist/config/index.js → …). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EMBEDDED_DEFAULT = join(PACKAGE_ROOT, 'config', 'default.yaml');

export interface LoadedConfig {
  config: Config;
  warnings: ConfigIssue[];
  /** The file it came from; `(embedded default)` marks the built-in one. */
  file: string;
  text: string;
}

/** DESIGN.md config search order: -c, $AUDITSHIPPER_CONFIG, ./auditshipper.yaml, /etc/…, embedded. */
export function resolveConfigPath(flag: string | undefined, env = process.env): string {
  if (flag) return flag;
  if (env.AUDITSHIPPER_CONFIG) return env.AUDITSHIPPER_CONFIG;
  for (const p of ['auditshipper.yaml', '/etc/auditshipper/auditshipper.yaml'])
    if (existsSync(p)) return p;
  return EMBEDDED_DEFAULT;
}

/** Whole-config checks zod cannot express, reported as config paths. */
export function checkConfig(cfg: Config): {
  errors: { path: ConfigPath; message: string }[];
  warnings: { path: ConfigPath; message: string }[];
} {
  const errors: { path: ConfigPath; message: string }[] = [];
  const warnings: { path: ConfigPath; message: string }[] = [];
  const routes = compileRoutes({
    routes: cfg.routes,
    routes_default: cfg.routes_default,
    sinks: Object.keys(cfg.sinks),
  });
  if (!routes.ok) errors.push(...routes.errors);
  else warnings.push(...routes.warnings);
  const profileNames = new Set<string>(['auto', ...BUILTIN_PROFILES, ...Object.keys(cfg.profiles)]);
  for (const [name, src] of Object.entries(cfg.sources)) {
    if (!profileNames.has(src.profile)) {
      errors.push({
        path: ['sources', name, 'profile'],
        message: `unknown profile "${src.profile}" (known: ${[...profileNames].join(', ')})`,
      });
    }
  }
  for (const [name, sink] of Object.entries(cfg.sinks)) {
    if (sink.type === 'file') {
      try {
        compilePathTemplate(sink.path);
      } catch (err) {
        errors.push({ path: ['sinks', name, 'path'], message: (err as Error).message });
      }
    }
  }
  const stdinSources = Object.entries(cfg.sources).filter(([, s]) => s.type === 'stdin');
  if (stdinSources.length > 1) {
    errors.push({
      path: ['sources', stdinSources[1]![0]],
      message: 'only one stdin source can exist',
    });
  }
  return { errors, warnings };
}

export function loadConfigFromText(
  text: string,
  file: string,
  env?: InterpolationEnv,
): LoadedConfig {
  const { config, warnings } = loadConfigText(text, file, configSchema, {
    env,
    check: checkConfig,
  });
  return { config, warnings, file, text };
}

/** Read and validate a config file. Throws ConfigError (with file:line:col) on any problem. */
export function loadConfigFile(path: string, env?: InterpolationEnv): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([
      { file: path, line: 1, col: 1, message: `cannot read config file (${code})` },
    ]);
  }
  const shown = path === EMBEDDED_DEFAULT ? '(embedded default)' : path;
  return loadConfigFromText(text, shown, env);
}
