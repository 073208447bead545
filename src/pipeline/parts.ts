/**
 * Building the pure, swappable part of the pipeline (parsers, redaction, routes) from a
 * Config. Kept apart from src/components.ts, which also builds sources and sinks: the stage
 * worker imports this module alone, so its thread never loads the HTTP client, the file
 * watcher or the sink modules it does not use (each module loaded is heap and code space
 * in the worker's own isolate).
 */
import type { Config, SourceConfig } from '../config/schema.js';
import { HOST } from '../host.js';
import { compileParser, type RecordParser } from '../parse/index.js';
import { compileRedaction } from '../redact/index.js';
import { compileRoutes } from '../route/index.js';
import type { PipelineParts } from './stages.js';

export function buildParser(name: string, src: SourceConfig, cfg: Config): RecordParser {
  return compileParser({ profile: src.profile, profiles: cfg.profiles, host: HOST, source: name });
}

/** Parsers, redaction and routes: the pure, swappable part of the pipeline. */
export function buildPipelineParts(cfg: Config): PipelineParts {
  const routes = compileRoutes({
    routes: cfg.routes,
    routes_default: cfg.routes_default,
    sinks: Object.keys(cfg.sinks),
  });
  if (!routes.ok) throw new Error(routes.errors.map((e) => e.message).join('; '));
  const parsers = new Map<string, RecordParser>();
  for (const [name, src] of Object.entries(cfg.sources))
    parsers.set(name, buildParser(name, src, cfg));
  return {
    parsers,
    redaction: compileRedaction(cfg.redaction),
    router: routes.router,
    minSeverity: cfg.audit.min_severity,
  };
}
