/**
 * The top-level config schema: the single source of truth for config types. Each module
 * owns the schema of its own section (sources, profiles, redaction, routes, each sink type);
 * this file composes them and adds the sections that belong to the agent itself.
 * Key names are the contract in DESIGN.md: add keys freely, rename none.
 */
import { z } from 'zod';
import { zDuration, zSize } from './zod-units.js';
import { fileSourceSchema, stdinSourceSchema } from '../sources/config.js';
import { demoSourceSchema } from '../sources/demo.js';
import { profilesSchema } from '../parse/config.js';
import { redactionConfigSchema } from '../redact/config.js';
import { routesDefaultSchema, routesSchema } from '../route/config.js';
import { fileSinkSchema } from '../sinks/file.js';
import { stdoutSinkSchema } from '../sinks/stdout.js';
import { datadogSinkSchema } from '../sinks/datadog.js';
import { splunkHecSinkSchema } from '../sinks/splunk-hec.js';
import { httpSinkSchema } from '../sinks/http.js';

/** Component names become metric labels, file names and CLI arguments: keep them plain. */
const componentName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'names use letters, digits, "_", "." and "-" (max 64)',
  );

export const sourceSchema = z.discriminatedUnion('type', [
  fileSourceSchema,
  stdinSourceSchema,
  demoSourceSchema,
]);

export const sinkSchema = z.discriminatedUnion('type', [
  fileSinkSchema,
  stdoutSinkSchema,
  datadogSinkSchema,
  splunkHecSinkSchema,
  httpSinkSchema,
]);

export const configSchema = z.strictObject({
  /** SQLite buffer and state. */
  data_dir: z.string().min(1).default('/var/lib/auditshipper'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .prefault({}),
  api: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** host:port for /metrics, /healthz, /readyz. */
      listen: z
        .string()
        .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'use host:port, e.g. 127.0.0.1:9880')
        .default('127.0.0.1:9880'),
      /** A sink unhealthy for longer than this makes /readyz fail. */
      unhealthy_after: zDuration.prefault('5m'),
      /**
       * Whether sink health counts for /readyz. A sidecar's readiness is its pod's: set false
       * there so a SIEM outage does not take the app out of its Service (events stay buffered).
       */
      ready_requires_sinks: z.boolean().default(true),
    })
    .prefault({}),
  sources: z.record(componentName, sourceSchema).refine((s) => Object.keys(s).length > 0, {
    message: 'at least one source is required',
  }),
  profiles: profilesSchema.prefault({}),
  audit: z
    .strictObject({
      /** Events below this severity are dropped at ingest (counted); `off` drops all. */
      min_severity: z.enum(['off', 'critical', 'warn', 'info']).default('info'),
    })
    .prefault({}),
  redaction: redactionConfigSchema.prefault({}),
  buffer: z
    .strictObject({
      /** Cap on bytes held in the buffer (queued + kept + dead letters). */
      max_bytes: zSize.prefault('2GiB'),
      /** block: sources pause (files wait; the file is the upstream buffer). drop_newest: drop and count. */
      when_full: z.enum(['block', 'drop_newest']).default('block'),
      /** normal survives a process crash; full also survives power loss. */
      sync: z.enum(['normal', 'full']).default('normal'),
      /** Keep delivered events this long (for inspection); 0s deletes them at once. */
      keep_delivered: zDuration.prefault('0s'),
    })
    .prefault({}),
  sinks: z.record(componentName, sinkSchema).refine((s) => Object.keys(s).length > 0, {
    message: 'at least one sink is required',
  }),
  routes: routesSchema.prefault([]),
  routes_default: routesDefaultSchema.optional(),
  /** On SIGTERM: how long to keep flushing in-flight batches before exiting. */
  shutdown_timeout: zDuration.prefault('30s'),
});

export type Config = z.output<typeof configSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type SinkConfig = z.output<typeof sinkSchema>;
