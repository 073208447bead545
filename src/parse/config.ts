/**
 * Config schema for YAML-defined parse profiles (`profiles.<name>`): a match
 * condition plus a field path for each AuditEvent field (DESIGN.md, "custom").
 *
 * ```yaml
 * profiles:
 *   billing:
 *     product: billing
 *     envelope: auditEvent              # optional: where the record sits in the line
 *     match: { field: kind, equals: audit }
 *     fields:
 *       action: event.name
 *       actor_email: user.email
 *       timestamp: at
 * ```
 */
import { z } from 'zod';

/** Names `profile:` already gives a meaning to; a custom profile cannot take them. */
export const BUILTIN_PROFILE_NAMES = ['auto', 'retool', 'tooljet', 'generic'] as const;

/**
 * A dotted path into the record (`metadata.user.email`); a numeric segment also
 * indexes arrays (`events.0.type`). Keys containing dots cannot be addressed.
 */
export const pathSchema = z
  .string()
  .max(512, 'path is too long (max 512 characters)')
  .regex(
    /^[^.]+(\.[^.]+)*$/,
    'expected a dotted field path such as `metadata.user.email` (no empty segments)',
  );

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);
export type MatchScalar = z.infer<typeof scalarSchema>;

/**
 * One of two forms:
 * - a field test: `{ field, equals?, in?, prefix?, exists? }` — every test given must hold;
 * - a combination: `{ all: [...] }` or `{ any: [...] }`.
 */
export interface MatchCondition {
  field?: string;
  equals?: MatchScalar;
  in?: MatchScalar[];
  prefix?: string;
  exists?: boolean;
  all?: MatchCondition[];
  any?: MatchCondition[];
}

export const matchConditionSchema: z.ZodType<MatchCondition> = z.lazy(() =>
  z
    .strictObject({
      field: pathSchema.optional(),
      equals: scalarSchema.optional(),
      in: z.array(scalarSchema).min(1, '`in` needs at least one value').optional(),
      prefix: z.string().optional(),
      exists: z.boolean().optional(),
      all: z.array(matchConditionSchema).min(1, '`all` needs at least one condition').optional(),
      any: z.array(matchConditionSchema).min(1, '`any` needs at least one condition').optional(),
    })
    .superRefine((c, ctx) => {
      const forms =
        (c.field !== undefined ? 1 : 0) +
        (c.all !== undefined ? 1 : 0) +
        (c.any !== undefined ? 1 : 0);
      const tests = [c.equals, c.in, c.prefix, c.exists].filter((t) => t !== undefined).length;
      if (forms !== 1) {
        ctx.addIssue({
          code: 'custom',
          message:
            'a match condition is exactly one of `{ field: <path>, equals|in|prefix|exists: ... }`, `{ all: [...] }` or `{ any: [...] }`',
        });
      } else if (c.field !== undefined && tests === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['field'],
          message: 'a field condition needs at least one test: equals, in, prefix or exists',
        });
      } else if (c.field === undefined && tests > 0) {
        ctx.addIssue({
          code: 'custom',
          message:
            'equals / in / prefix / exists belong to a `field` condition, not to `all` / `any`',
        });
      }
    }),
);

/** Field paths for each AuditEvent field; only `action` is required. */
export const customFieldsSchema = z.strictObject({
  action: pathSchema,
  timestamp: pathSchema.optional(),
  app_event_id: pathSchema.optional(),
  actor_id: pathSchema.optional(),
  actor_email: pathSchema.optional(),
  actor_ip: pathSchema.optional(),
  actor_user_agent: pathSchema.optional(),
  target_type: pathSchema.optional(),
  target_id: pathSchema.optional(),
  target_name: pathSchema.optional(),
  target_app: pathSchema.optional(),
  target_resource: pathSchema.optional(),
  organization_id: pathSchema.optional(),
  duration_ms: pathSchema.optional(),
  outcome: pathSchema.optional(),
  severity: pathSchema.optional(),
  detail: pathSchema.optional(),
});
export type CustomFields = z.infer<typeof customFieldsSchema>;

export const customProfileSchema = z.strictObject({
  /**
   * The event's `product`. Restricted to a safe identifier because sinks put it in
   * file paths (`{{product}}.ndjson`) and index names.
   */
  product: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
      'product must be 1-64 characters: letters, digits, `_`, `.`, `-`, starting with a letter or digit',
    ),
  match: matchConditionSchema,
  fields: customFieldsSchema,
  /** Where the audit record sits in the line (a JSON string there is parsed). Default: searched. */
  envelope: pathSchema.optional(),
});
export type CustomProfile = z.infer<typeof customProfileSchema>;

const PROFILE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * `profiles:` — custom profile name → definition. Names are checked in a refinement
 * (not a key schema) so the message says what is wrong with the name.
 */
export const profilesSchema = z
  .record(z.string(), customProfileSchema)
  .superRefine((profiles, ctx) => {
    for (const name of Object.keys(profiles)) {
      if ((BUILTIN_PROFILE_NAMES as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `"${name}" is a built-in profile name (${BUILTIN_PROFILE_NAMES.join(', ')}); choose another name and set \`product\` to override detection for that product`,
        });
      } else if (!PROFILE_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `invalid profile name "${name}": use 1-64 characters, lower-case letters, digits, \`_\`, \`-\`, starting with a letter or digit`,
        });
      }
    }
  });
export type ProfilesConfig = z.infer<typeof profilesSchema>;
