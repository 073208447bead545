/**
 * Config schema for `routes` and `routes_default` (DESIGN.md "Config contract").
 *
 * The schema checks everything that does not need the rest of the config: shapes, field
 * paths, regexes, severities, duplicate route names. compileRoutes (index.ts) re-runs it and
 * adds the checks that need the sink names. Conditions are validated by the same walker that
 * compiles them (condition.ts), so the two can never disagree.
 */
import { z } from 'zod';
import { SEVERITIES } from '../event/types.js';
import { compileCondition, type Condition, type ConfigPath, type RouteIssue } from './condition.js';
import { didYouMean } from './suggest.js';

export type { Condition, Matcher, MatcherListItem, MatcherObject, Scalar } from './condition.js';

const ROUTE_KEYS = ['name', 'when', 'to', 'final', 'min_severity', 'non_audit'] as const;

/** Lines that are not audit events have no AuditEvent: only where they came from is known. */
export const NON_AUDIT_ROOTS = ['source'] as const;
const NON_AUDIT_REASON =
  'a non_audit route sees lines that are not audit events, which only have source.name, source.host, source.file and source.offset';

function addIssues(ctx: z.RefinementCtx, issues: RouteIssue[], prefix: ConfigPath = []): void {
  for (const i of issues)
    ctx.addIssue({ code: 'custom', message: i.message, path: [...prefix, ...i.path] });
}

/** A routing condition (see condition.ts for the language). Validated, kept as plain data. */
export const conditionSchema: z.ZodType<Condition> = z
  .custom<Condition>()
  .superRefine((value, ctx) => {
    const issues: RouteIssue[] = [];
    compileCondition(value, [], issues);
    addIssues(ctx, issues);
  });

const sinkNameSchema = z
  .string({ error: 'a sink name is a string' })
  .min(1, 'a sink name cannot be empty');

export const routeSchema = z
  .strictObject(
    {
      /** Identifies the route in metrics (`route` label) and explain output. */
      name: z
        .string({ error: 'name is required: it labels the route in metrics and explain output' })
        .min(1, 'name cannot be empty')
        .max(128, 'name is longer than 128 characters')
        .regex(/^[^\p{Cc}]*$/u, 'name cannot contain control characters'),
      /** Omitted: the route matches every event. */
      when: conditionSchema.optional(),
      /** Sink names (keys of `sinks`). */
      to: z
        .array(sinkNameSchema, { error: 'to is a list of sink names, e.g. [archive, splunk]' })
        .min(1, 'to needs at least one sink name'),
      /** Stop evaluating later routes when this one matches. */
      final: z.boolean().default(false),
      /** An extra condition: the event's severity is at least this. */
      min_severity: z
        .enum(SEVERITIES, { error: `min_severity is one of ${SEVERITIES.join(', ')}` })
        .optional(),
      /** Route lines that are not audit events instead of audit events (conditions may use source.* only). */
      non_audit: z.boolean().default(false),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown route key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `${JSON.stringify(k)}${didYouMean(k, ROUTE_KEYS)}`).join(', ')}: a route has ${ROUTE_KEYS.join(', ')}`
          : undefined,
    },
  )
  .superRefine((route, ctx) => {
    if (!route.non_audit) return;
    if (route.min_severity !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['min_severity'],
        message:
          'min_severity does not apply to a non_audit route: lines that are not audit events have no severity',
      });
    }
    if (route.when !== undefined) {
      // Shape errors were reported by conditionSchema; only the field restriction is new here.
      const all: RouteIssue[] = [];
      compileCondition(route.when, ['when'], all);
      if (all.length > 0) return;
      const restricted: RouteIssue[] = [];
      compileCondition(route.when, ['when'], restricted, {
        allowedRoots: NON_AUDIT_ROOTS,
        allowedRootsReason: NON_AUDIT_REASON,
      });
      addIssues(ctx, restricted);
    }
  });

/** An ordered list of routes; names must be unique. */
export const routesSchema = z
  .array(routeSchema, {
    error: 'routes is a list of routes, each with name, to and optionally when and final',
  })
  .superRefine((routes, ctx) => {
    const seen = new Map<string, number>();
    routes.forEach((r, i) => {
      const first = seen.get(r.name);
      if (first === undefined) seen.set(r.name, i);
      else {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `duplicate route name ${JSON.stringify(r.name)}: routes[${first}] already uses it (names label routes in metrics and explain output)`,
        });
      }
    });
  });

/** Sinks for events no route matched. */
export const routesDefaultSchema = z.array(sinkNameSchema, {
  error: 'routes_default is a list of sink names, e.g. [archive]',
});

/** A route as written in the config (`final` and `non_audit` may be omitted). */
export type Route = z.input<typeof routeSchema>;
/** A route after parsing (defaults applied). */
export type RouteConfig = z.output<typeof routeSchema>;
