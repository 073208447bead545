/**
 * `redaction:` config. Every key is optional and the defaults are the strongest
 * protection that still leaves audit events useful: headers and cookies dropped,
 * credential-named keys masked, every detector on, e-mails hashed when a key is
 * configured (else masked), IPs kept (see `detectors.ip` below for why).
 */
import { RE2JS } from 're2js';
import { z } from 'zod';
import { dropPathError, pathError } from './paths.js';
import { MASK } from './tokens.js';

const zPath = z.string().superRefine((p, ctx) => {
  const err = pathError(p);
  if (err !== null) ctx.addIssue({ code: 'custom', message: err });
});

const zDropPath = z.string().superRefine((p, ctx) => {
  const err = dropPathError(p);
  if (err !== null) ctx.addIssue({ code: 'custom', message: err });
});

const zName = z.string().min(1, 'must not be empty');

/** `true` / `false` as shorthand for `{ enabled: … }`. */
function toggle<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === 'boolean' ? { enabled: v } : v), schema);
}

/** Custom detectors: compiled with re2js (RE2 syntax, linear time, no look-around or back-references). */
const customDetectorSchema = z
  .strictObject({
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
        'use 1-64 letters, digits, "_" or "-", starting with a letter or digit',
      ),
    pattern: z.string().min(1, 'must not be empty').max(4096, 'is longer than 4096 characters'),
    replace: z.string().max(256, 'is longer than 256 characters').default(MASK),
    ignore_case: z.boolean().default(false),
  })
  .superRefine((d, ctx) => {
    let re: RE2JS;
    try {
      re = compileCustomPattern(d.pattern, d.ignore_case);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message: `invalid regular expression (RE2 syntax: no look-around or back-references): ${msg}`,
      });
      return;
    }
    if (re.test('')) {
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message: 'pattern matches the empty string',
      });
      return;
    }
    // Idempotence: the replacement must not be rewritten again on a second pass.
    if (!d.replace.includes('$')) {
      const m = re.matcher(d.replace);
      while (m.find()) {
        if (m.start() !== 0 || m.end() !== d.replace.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['replace'],
            message:
              'the replacement contains a match of the pattern, so redacting twice would change it again',
          });
          break;
        }
      }
    }
  });

/** Compile a custom detector pattern exactly as the engine will. Throws on bad syntax. */
export function compileCustomPattern(pattern: string, ignoreCase: boolean): RE2JS {
  return RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
}

/** `auto`: hash when `hash.key` is set, else mask. `true` = auto, `false` = keep. */
const emailPolicySchema = z.preprocess(
  (v) => (v === true ? 'auto' : v === false ? 'keep' : v),
  z.enum(['auto', 'hash', 'mask', 'keep']),
);

/**
 * Default `keep`: the client IP is the core of an audit trail's security value
 * (impossible travel, blocklists, incident response), SIEMs key on it, and Retool's
 * own audit UI shows it. Operators under stricter privacy rules choose `truncate`
 * (/24 and /48) or `hash`. `true` = truncate, `false` = keep.
 */
const ipPolicySchema = z.preprocess(
  (v) => (v === true ? 'truncate' : v === false ? 'keep' : v),
  z.enum(['keep', 'hash', 'truncate']),
);

const detectorsSchema = z.strictObject({
  card: z.boolean().default(true),
  ssn: z.boolean().default(true),
  jwt: z.boolean().default(true),
  bearer: z.boolean().default(true),
  basic_auth: z.boolean().default(true),
  aws: z.boolean().default(true),
  vendor_tokens: z.boolean().default(true),
  private_key: z.boolean().default(true),
  url_credentials: z.boolean().default(true),
  email: emailPolicySchema.default('auto'),
  ip: ipPolicySchema.default('keep'),
  custom: z.array(customDetectorSchema).default([]),
});

export const redactionConfigSchema = z
  .strictObject({
    /** Drop request/response header and cookie containers wherever they appear. */
    hide_all_headers: z.boolean().default(true),
    /** Query names or globs whose parameters are replaced with `[REDACTED]`. */
    hide_query_parameters: z.array(zName).default([]),
    /** Field paths removed from the event. */
    drop: z.array(zDropPath).default([]),
    /** Field paths replaced with `[REDACTED]`. */
    mask: z.array(zPath).default([]),
    /** Keyed HMAC-SHA-256 pseudonyms: `hmac:<key_id>:<hex>`. */
    hash: z
      .strictObject({
        key: z
          .string()
          .min(16, 'must be at least 16 characters (128 bits); use a long random secret')
          .optional(),
        key_id: z
          .string()
          .regex(
            /^[A-Za-z0-9_-]{1,16}$/,
            'use 1-16 letters, digits, "_" or "-" (it is written into every token)',
          )
          .default('v1'),
        paths: z.array(zPath).default([]),
      })
      .prefault({}),
    /** Keep only the last N characters: `************1234`. */
    partial: z
      .array(
        z.strictObject({
          path: zPath,
          keep_last: z.number().int().min(0).max(16).default(4),
        }),
      )
      .default([]),
    /** Mask values under credential-named keys at any depth, any casing. */
    always_secret_keys: toggle(
      z.strictObject({
        enabled: z.boolean().default(true),
        /** More key names or globs to treat as secret (`x-session-*`, `*pin*`). */
        extra: z.array(zName).default([]),
        /** Key names or globs never treated as secret by name (detectors still run). */
        except: z.array(zName).default([]),
      }),
    ).prefault({}),
    detectors: detectorsSchema.prefault({}),
    /** Replace literals in SQL text with `?` (off by default: it hides values analysts may need). */
    sql_literals: toggle(
      z.strictObject({
        enabled: z.boolean().default(false),
        /** Key names holding SQL, in addition to query, queryText, sql, sqlQuery, statement, rawQuery, rawSql. */
        keys: z.array(zName).default([]),
      }),
    ).prefault({}),
    /** Parse strings holding JSON, redact inside, re-serialise; deeper levels are masked whole. */
    json_in_strings: toggle(
      z.strictObject({
        enabled: z.boolean().default(true),
        max_depth: z.number().int().min(1).max(16).default(3),
      }),
    ).prefault({}),
    /** Beyond these, values are masked (fail closed), never passed through. */
    limits: z
      .strictObject({
        max_depth: z.number().int().min(2).max(1000).default(64),
        max_array_items: z.number().int().min(2).max(1_000_000).default(1000),
        max_object_keys: z.number().int().min(2).max(1_000_000).default(1000),
        max_string_length: z
          .number()
          .int()
          .min(256)
          .max(16 * 1024 * 1024)
          .default(128 * 1024),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const keyed = cfg.hash.key !== undefined;
    if (!keyed && cfg.hash.paths.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['hash', 'key'],
        message:
          'hash.paths needs hash.key (a secret of at least 16 characters, e.g. "${AUDIT_HMAC_KEY}")',
      });
    }
    if (!keyed && cfg.detectors.email === 'hash') {
      ctx.addIssue({
        code: 'custom',
        path: ['detectors', 'email'],
        message: 'email: hash needs hash.key; use auto (hash when a key is set, else mask) or mask',
      });
    }
    if (!keyed && cfg.detectors.ip === 'hash') {
      ctx.addIssue({
        code: 'custom',
        path: ['detectors', 'ip'],
        message: 'ip: hash needs hash.key; use truncate or keep',
      });
    }
    const seen = new Set<string>();
    cfg.detectors.custom.forEach((d, i) => {
      if (seen.has(d.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['detectors', 'custom', i, 'name'],
          message: `duplicate custom detector name ${JSON.stringify(d.name)}`,
        });
      }
      seen.add(d.name);
    });
  });

export type RedactionConfig = z.output<typeof redactionConfigSchema>;
export type RedactionConfigInput = z.input<typeof redactionConfigSchema>;

/** The defaults, as compiled when `redaction:` is absent. */
export function defaultRedactionConfig(): RedactionConfig {
  return redactionConfigSchema.parse({});
}
