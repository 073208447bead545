/**
 * The redaction plan: config compiled once, applied to every event before the store
 * (DESIGN.md promise 2: nothing unredacted reaches disk).
 *
 * Two layers (research/redaction.md §6.7):
 *   1. structural, by position and key name: path rules (drop / mask / hash /
 *      partial), header and cookie containers, hidden query parameters,
 *      always-secret key names, `[{key, value}]` and `[name, value]` pairs;
 *   2. content, over every remaining string (and numbers shaped like cards):
 *      the detectors in detectors.ts, SQL literal stripping, JSON inside strings.
 *
 * What is walked: `actor` (id kept in clear; email, ip, user_agent scanned),
 * `target` (id kept; type, name, app, resource scanned), `organization_id` (path
 * rules only) and all of `detail`, keys included (a map keyed by e-mail address
 * is as personal as a list of them). `id`, `timestamp`, `product`, `action`,
 * `category`, `severity`, `outcome`, `duration_ms` and `source` are the pipeline's
 * own and never touched.
 *
 * apply() redacts IN PLACE and returns the same object: the hot path allocates only
 * for values it changes, and rebuilds an object that loses or renames keys (rather
 * than `delete`, which leaves it slow to serialise). Nested objects of the original
 * may be left behind unredacted but unreferenced: clone first if the original is
 * still needed.
 *
 * Fail closed: a string over `limits.max_string_length`, a container deeper than
 * `limits.max_depth`, JSON nested in strings beyond `json_in_strings.max_depth` are
 * replaced by `[REDACTED]`; arrays and objects over their size caps keep their first
 * entries plus one `[REDACTED]` marker. An unexpected internal error empties
 * `detail` and masks the scanned actor/target fields. Raw input is never passed on.
 */
import picomatch from 'picomatch';
import type { AuditEvent } from '../event/types.js';
import { compileCustomPattern, type RedactionConfig } from './config.js';
import {
  applySpans,
  cardNumberValue,
  createQuickClean,
  createTextScanner,
  type CustomDetector,
  type EmailPolicy,
  type Span,
  type Tally,
} from './detectors.js';
import { createHasher, normaliseForHash, type Hasher } from './hash.js';
import {
  KEY_HEADERS,
  KEY_PARAMS,
  KEY_SECRET,
  KEY_SQL,
  KEY_URL_SECRET,
  createKeyClassifier,
  defaultSqlKeys,
} from './keys.js';
import { compilePaths, type PathMatcher, type PathState } from './paths.js';
import { looksLikeSql, stripSqlLiterals } from './sql.js';
import { MASK, isHashToken, isToken } from './tokens.js';

export interface RedactionPlan {
  /** Redact `event` in place, merge what was done into `event.redacted`, return it. */
  apply(event: AuditEvent): AuditEvent;
  /** One line per active rule, for `validate` / `route` output. Never contains the hash key. */
  describe(): string[];
}

type PathRuleKind = 'drop' | 'mask' | 'hash' | 'partial';

interface PathRule {
  kind: PathRuleKind;
  path: string;
  keepLast: number;
}

interface KeyInfo {
  bits: number;
  /** The key with detectors applied (same string when unchanged). */
  key: string;
  /** Rules that fired on the key, replayed into the tally on every use. */
  rules: string[] | null;
}

const KEY_CACHE_LIMIT = 10_000;
/**
 * Scan-result memo: entries per generation, and the longest string memoised.
 * Measured (bench/redaction.ts): +40-70% on realistic events, about -10% when every
 * value is unique.
 */
const SCAN_CACHE_GENERATION = 4096;
const SCAN_CACHE_MAX_LENGTH = 512;

interface ScanResult {
  text: string;
  /** Rules that fired, replayed on every hit; null when nothing did. */
  rules: string[] | null;
}
const CLEAN: ScanResult = { text: '', rules: null };
const ACTOR_SCANNED = ['email', 'ip', 'user_agent'] as const;
const TARGET_SCANNED = ['type', 'name', 'app', 'resource'] as const;
const ACTOR_FIELDS = ['id', ...ACTOR_SCANNED] as const;
const TARGET_FIELDS = ['id', ...TARGET_SCANNED] as const;
const ORGANIZATION_FIELDS = ['organization_id'] as const;
/** Marks array slots a `drop` rule removed, compacted after the pass. */
const DROPPED: unique symbol = Symbol('dropped');

function isBlank(v: unknown): boolean {
  return v === null || v === undefined || v === '';
}

function partialMask(s: string, keep: number): string {
  if (s.length <= keep) return '*'.repeat(s.length);
  return '*'.repeat(s.length - keep) + s.slice(s.length - keep);
}

/** Cheap shape test before JSON.parse, so `[REDACTED]` and `{{ template }}` never throw. */
function looksLikeJson(s: string): boolean {
  let a = 0;
  let b = s.length - 1;
  while (a <= b && s.charCodeAt(a) <= 32) a++;
  while (b > a && s.charCodeAt(b) <= 32) b--;
  if (b - a < 1) return false;
  const open = s.charCodeAt(a);
  const close = s.charCodeAt(b);
  let k = a + 1;
  while (k < b && s.charCodeAt(k) <= 32) k++;
  const next = s.charCodeAt(k);
  if (open === 123) return close === 125 && (next === 34 || next === 125); // {"…"} or {}
  if (open === 91) {
    // ["…"], [{…}], [[…]], [], [1…], [-1…], [true…], [false…], [null…]
    return (
      close === 93 &&
      (next === 34 ||
        next === 123 ||
        next === 91 ||
        next === 93 ||
        next === 45 ||
        (next >= 48 && next <= 57) ||
        next === 116 ||
        next === 102 ||
        next === 110)
    );
  }
  return false;
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

export function compileRedaction(cfg: RedactionConfig): RedactionPlan {
  const hasher: Hasher | null =
    cfg.hash.key !== undefined ? createHasher(cfg.hash.key, cfg.hash.key_id) : null;

  // Path rules in precedence order: drop > mask > hash > partial.
  const rules: PathRule[] = [
    ...cfg.drop.map((path) => ({ kind: 'drop' as const, path, keepLast: 0 })),
    ...cfg.mask.map((path) => ({ kind: 'mask' as const, path, keepLast: 0 })),
    ...cfg.hash.paths.map((path) => ({ kind: 'hash' as const, path, keepLast: 0 })),
    ...cfg.partial.map((p) => ({ kind: 'partial' as const, path: p.path, keepLast: p.keep_last })),
  ];
  const matcher: PathMatcher | null =
    rules.length > 0 ? compilePaths(rules.map((r) => r.path)) : null;

  const secretKeysOn = cfg.always_secret_keys.enabled;
  const classifyOpts = {
    secretKeys: secretKeysOn,
    extraSecret: cfg.always_secret_keys.extra,
    exceptSecret: cfg.always_secret_keys.except,
    sqlKeys: cfg.sql_literals.keys,
  };
  const classifyUncached = createKeyClassifier(classifyOpts, 0);
  const classifyName = createKeyClassifier(classifyOpts);

  const emailPolicy: EmailPolicy =
    cfg.detectors.email === 'auto' ? (hasher !== null ? 'hash' : 'mask') : cfg.detectors.email;
  const custom: CustomDetector[] = cfg.detectors.custom.map((d) => ({
    rule: `custom:${d.name}`,
    re: compileCustomPattern(d.pattern, d.ignore_case),
    replace: d.replace,
  }));
  const d = cfg.detectors;
  const detectorOptions = {
    card: d.card,
    ssn: d.ssn,
    jwt: d.jwt,
    bearer: d.bearer,
    basic_auth: d.basic_auth,
    aws: d.aws,
    vendor_tokens: d.vendor_tokens,
    private_key: d.private_key,
    url_credentials: d.url_credentials,
    secret_key_text: secretKeysOn,
    email: emailPolicy,
    ip: d.ip,
    hasher,
    isSecretName: (name: string) => (classifyName(name) & KEY_SECRET) !== 0,
    isUrlSecretName: (name: string) => (classifyName(name) & KEY_URL_SECRET) !== 0,
    custom,
  };
  const scanText = createTextScanner(detectorOptions);
  const quickClean = createQuickClean(detectorOptions);

  const hideHeaders = cfg.hide_all_headers;
  const hideParamsMatch =
    cfg.hide_query_parameters.length > 0
      ? picomatch(cfg.hide_query_parameters, { dot: true })
      : null;
  const sqlOn = cfg.sql_literals.enabled;
  const jsonOn = cfg.json_in_strings.enabled;
  const jsonMax = cfg.json_in_strings.max_depth;
  const maxDepth = cfg.limits.max_depth;
  const maxItems = cfg.limits.max_array_items;
  const maxKeys = cfg.limits.max_object_keys;
  const maxString = cfg.limits.max_string_length;

  // Per-apply state. apply() is synchronous and not re-entrant.
  let count = 0;
  const fired = new Set<string>();
  let hideParams = false;
  const tally: Tally = {
    add(rule: string): void {
      count++;
      fired.add(rule);
    },
  };
  const spans: Span[] = [];

  const keyCache = new Map<string, KeyInfo>();
  function keyInfo(k: string): KeyInfo {
    let info = keyCache.get(k);
    if (info !== undefined) return info;
    const bits = classifyUncached(k);
    let key = k;
    let keyRules: string[] | null = null;
    if (k.length > 0 && k.length <= maxString) {
      const found: Span[] = [];
      scanText(k, found);
      if (found.length > 0) {
        const hits: string[] = [];
        key = applySpans(k, found, { add: (r) => hits.push(r) });
        keyRules = hits;
      }
    } else if (k.length > maxString) {
      key = MASK;
      keyRules = ['limits'];
    }
    info = { bits, key, rules: keyRules };
    if (k.length <= 256) {
      if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
      keyCache.set(k, info);
    }
    return info;
  }

  function maskLeaf(v: unknown): unknown {
    if (typeof v === 'string') {
      if (v === '' || isToken(v)) return v;
      tally.add('secret_key');
      return MASK;
    }
    if (typeof v === 'number' || typeof v === 'bigint') {
      tally.add('secret_key');
      return MASK;
    }
    return v; // null, booleans: not secrets, and "blank" stays distinguishable
  }

  /** A path rule's result for `v`; `undefined` means "remove the field". */
  function ruleValue(rule: PathRule, v: unknown): unknown {
    if (rule.kind === 'drop') {
      tally.add('drop');
      return undefined;
    }
    if (isBlank(v)) return v;
    if (typeof v === 'string' && isToken(v)) return v;
    if (rule.kind === 'mask') {
      tally.add('mask');
      return MASK;
    }
    if (rule.kind === 'hash') {
      const s = typeof v === 'string' ? v : JSON.stringify(v);
      if (isHashToken(s)) return v;
      tally.add('hash');
      return hasher!.token(normaliseForHash(s));
    }
    // partial
    if (typeof v !== 'string' && typeof v !== 'number') {
      tally.add('partial');
      return MASK;
    }
    const s = String(v);
    const out = partialMask(s, rule.keepLast);
    if (out === v) return v;
    tally.add('partial');
    return out;
  }

  function scanString(
    s: string,
    sqlKey: boolean,
    state: PathState,
    depth: number,
    jl: number,
  ): string {
    const n = s.length;
    if (n === 0) return s;
    if (n > maxString) {
      tally.add('limits');
      return MASK;
    }
    if (jsonOn && looksLikeJson(s)) {
      const parsed = parseJson(s);
      if (parsed !== undefined && parsed !== null && typeof parsed === 'object') {
        if (jl >= jsonMax) {
          tally.add('json_in_strings');
          return MASK;
        }
        const before = count;
        const out = walk(parsed, state, depth, false, jl + 1, false);
        if (count === before) return s;
        return typeof out === 'string' ? out : JSON.stringify(out);
      }
    }
    let text = s;
    if (sqlKey && sqlOn && looksLikeSql(text)) {
      const r = stripSqlLiterals(text);
      if (r.count > 0) {
        text = r.text;
        count += r.count;
        fired.add('sql_literals');
      }
    }
    return detect(text);
  }

  /**
   * Detectors over plain text, memoised: audit streams repeat the same query text,
   * user agents, names and settings event after event. Two generations keep hot
   * entries across a flush; in-process memory only, bounded by entry count and
   * length (the values are in this process's memory anyway).
   */
  let young = new Map<string, ScanResult>();
  let old = new Map<string, ScanResult>();
  function detect(text: string): string {
    // Short words and timestamps: a test cheaper than hashing them for the memo, and
    // they stay out of it (a timestamp is new in every event and would only evict).
    if (quickClean(text)) return text;
    const cacheable = text.length <= SCAN_CACHE_MAX_LENGTH;
    if (cacheable) {
      let hit = young.get(text);
      if (hit === undefined) {
        hit = old.get(text);
        if (hit !== undefined) remember(text, hit);
      }
      if (hit !== undefined) {
        if (hit.rules !== null) for (const r of hit.rules) tally.add(r);
        return hit.text;
      }
    }
    scanText(text, spans);
    let result: ScanResult = CLEAN;
    if (spans.length > 0) {
      const hits: string[] = [];
      const out = applySpans(text, spans, { add: (r) => hits.push(r) });
      spans.length = 0;
      for (const r of hits) tally.add(r);
      result = { text: out, rules: hits };
    }
    if (cacheable) remember(text, result === CLEAN ? { text, rules: null } : result);
    return result === CLEAN ? text : result.text;
  }
  function remember(key: string, r: ScanResult): void {
    if (young.size >= SCAN_CACHE_GENERATION) {
      old = young;
      young = new Map();
    }
    young.set(key, r);
  }

  function walk(
    v: unknown,
    state: PathState,
    depth: number,
    secret: boolean,
    jl: number,
    inArray: boolean,
  ): unknown {
    if (typeof v === 'string') return secret ? maskLeaf(v) : scanString(v, false, state, depth, jl);
    if (typeof v === 'number') {
      if (secret) return maskLeaf(v);
      if (d.card && v >= 1e12) {
        const masked = cardNumberValue(v);
        if (masked !== null) {
          tally.add('card');
          return masked;
        }
      }
      return v;
    }
    if (v === null || typeof v !== 'object') return secret ? maskLeaf(v) : v;
    if (Array.isArray(v)) return walkArray(v as unknown[], state, depth + 1, secret, jl, inArray);
    return walkObject(v as Record<string, unknown>, state, depth + 1, secret, jl);
  }

  function walkArray(
    arr: unknown[],
    state: PathState,
    depth: number,
    secret: boolean,
    jl: number,
    inArray: boolean,
  ): unknown {
    if (depth > maxDepth) {
      tally.add('limits');
      return MASK;
    }
    if (arr.length > maxItems) {
      arr.length = maxItems - 1;
      arr.push(MASK);
      tally.add('limits');
    }
    // ["Authorization", "Bearer …"] pairs inside a list of pairs.
    const pairSecret =
      !secret &&
      secretKeysOn &&
      inArray &&
      arr.length === 2 &&
      typeof arr[0] === 'string' &&
      (keyInfo(arr[0]).bits & KEY_SECRET) !== 0;
    let dropped = false;
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      let cs: PathState = null;
      if (state !== null) {
        cs = matcher!.stepIndex(state, i);
        const r = matcher!.accepted(cs);
        if (r !== -1) {
          const nv = ruleValue(rules[r]!, v);
          if (nv === undefined) {
            arr[i] = DROPPED;
            dropped = true;
          } else if (nv !== v) arr[i] = nv;
          continue;
        }
      }
      const nv = walk(v, cs, depth, secret || (pairSecret && i === 1), jl, true);
      if (nv !== v) arr[i] = nv;
    }
    if (dropped) {
      let w = 0;
      for (let r = 0; r < arr.length; r++) if (arr[r] !== DROPPED) arr[w++] = arr[r];
      arr.length = w;
    }
    return arr;
  }

  function walkObject(
    obj: Record<string, unknown>,
    state: PathState,
    depth: number,
    secret: boolean,
    jl: number,
  ): unknown {
    if (depth > maxDepth) {
      tally.add('limits');
      return MASK;
    }
    let keys = Object.keys(obj);
    if (keys.length > maxKeys) {
      for (let i = maxKeys - 1; i < keys.length; i++) delete obj[keys[i]!];
      keys = keys.slice(0, maxKeys - 1);
      obj[MASK] = MASK;
      tally.add('limits');
    }
    // [{key: "authorization", value: "…"}] and {name: "Cookie", value: "…"} forms.
    let pairSecret = false;
    if (!secret && secretKeysOn && 'value' in obj) {
      const name = obj.key ?? obj.name ?? obj.header ?? obj.field;
      pairSecret = typeof name === 'string' && (keyInfo(name).bits & KEY_SECRET) !== 0;
    }
    let renamed = false;
    // Removed keys are left in place and skipped by the rebuild below: a `delete` turns
    // the object into a slow dictionary-mode object that JSON.stringify (canonicalJson)
    // then serialises some 30% slower.
    let dropped: string[] | null = null;
    for (const k of keys) {
      const v = obj[k];
      const info = keyInfo(k);
      const bits = info.bits;
      if (info.rules !== null) {
        renamed = true;
        for (const r of info.rules) tally.add(r);
      }
      let cs: PathState = null;
      if (state !== null) {
        cs = matcher!.step(state, k);
        const r = matcher!.accepted(cs);
        if (r !== -1) {
          const nv = ruleValue(rules[r]!, v);
          if (nv === undefined) (dropped ??= []).push(k);
          else if (nv !== v) obj[k] = nv;
          continue;
        }
      }
      if (hideHeaders && (bits & KEY_HEADERS) !== 0) {
        (dropped ??= []).push(k);
        tally.add('headers');
        continue;
      }
      if (hideParams && (bits & KEY_PARAMS) !== 0) {
        if (!isBlank(v) && v !== MASK) {
          obj[k] = MASK;
          tally.add('query_parameters');
        }
        continue;
      }
      const sec = secret || (bits & KEY_SECRET) !== 0 || (pairSecret && k === 'value');
      const nv =
        typeof v === 'string' && !sec
          ? scanString(v, (bits & KEY_SQL) !== 0, cs, depth, jl)
          : walk(v, cs, depth, sec, jl, false);
      if (nv !== v) obj[k] = nv;
    }
    if (!renamed && dropped === null) return obj;
    // Rebuild to keep key order, without the removed keys; a rewritten key that collides
    // gets a numeric suffix.
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj)) {
      if (dropped !== null && dropped.includes(k)) continue;
      let nk = renamed ? keyInfo(k).key : k;
      if (nk !== k && Object.prototype.hasOwnProperty.call(out, nk)) {
        let i = 2;
        while (Object.prototype.hasOwnProperty.call(out, `${nk}~${i}`)) i++;
        nk = `${nk}~${i}`;
      }
      if (nk === '__proto__') {
        // A plain assignment of "__proto__" would set the prototype.
        Object.defineProperty(out, nk, {
          value: obj[k],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[nk] = obj[k];
    }
    return out;
  }

  /** actor / target: fixed string-or-null fields; drop means null. */
  function redactFields(
    rec: Record<string, string | null>,
    state: PathState,
    fields: readonly string[],
    scanned: readonly string[],
  ): void {
    for (const f of fields) {
      const v = rec[f];
      if (v === undefined) continue;
      if (state !== null) {
        const cs = matcher!.step(state, f);
        const r = matcher!.accepted(cs);
        if (r !== -1) {
          const nv = ruleValue(rules[r]!, v);
          rec[f] = typeof nv === 'string' ? nv : null;
          continue;
        }
      }
      if (typeof v === 'string' && scanned.includes(f)) rec[f] = scanString(v, false, null, 1, 0);
    }
  }

  function failClosed(ev: AuditEvent): void {
    ev.detail = {};
    for (const f of ACTOR_SCANNED) if (ev.actor && ev.actor[f] !== null) ev.actor[f] = MASK;
    for (const f of TARGET_SCANNED) if (ev.target && ev.target[f] !== null) ev.target[f] = MASK;
    tally.add('error');
  }

  /** Scanned actor / target text with no path rules: detectors only. */
  function scanField(v: string): string {
    return scanString(v, false, null, 1, 0);
  }

  function apply(ev: AuditEvent): AuditEvent {
    count = 0;
    fired.clear();
    try {
      const name = ev.target?.name;
      hideParams = hideParamsMatch !== null && typeof name === 'string' && hideParamsMatch(name);
      const root = matcher !== null ? matcher.initial : null;
      const a = ev.actor;
      const t = ev.target;
      if (root === null) {
        // No path rules: only the scanned fields can change, so read and write them
        // directly instead of by computed name (what redactFields does for paths).
        if (a) {
          if (typeof a.email === 'string') a.email = scanField(a.email);
          if (typeof a.ip === 'string') a.ip = scanField(a.ip);
          if (typeof a.user_agent === 'string') a.user_agent = scanField(a.user_agent);
        }
        if (t) {
          if (typeof t.type === 'string') t.type = scanField(t.type);
          if (typeof t.name === 'string') t.name = scanField(t.name);
          if (typeof t.app === 'string') t.app = scanField(t.app);
          if (typeof t.resource === 'string') t.resource = scanField(t.resource);
        }
      } else {
        if (a) {
          redactFields(
            a as unknown as Record<string, string | null>,
            matcher!.step(root, 'actor'),
            ACTOR_FIELDS,
            ACTOR_SCANNED,
          );
        }
        if (t) {
          redactFields(
            t as unknown as Record<string, string | null>,
            matcher!.step(root, 'target'),
            TARGET_FIELDS,
            TARGET_SCANNED,
          );
        }
        if (ev.organization_id !== null) {
          const holder: Record<string, string | null> = { organization_id: ev.organization_id };
          redactFields(holder, root, ORGANIZATION_FIELDS, []);
          ev.organization_id = holder.organization_id ?? null;
        }
      }
      if (ev.detail !== null && typeof ev.detail === 'object') {
        const out = walkObject(
          ev.detail,
          root !== null ? matcher!.step(root, 'detail') : null,
          1,
          false,
          0,
        );
        ev.detail = out !== null && typeof out === 'object' ? (out as Record<string, unknown>) : {};
      }
    } catch {
      // A bug must not let raw data through: drop what we could not vouch for.
      failClosed(ev);
    }
    if (count > 0) {
      const prev = ev.redacted;
      let rules: string[];
      if (prev?.rules !== undefined && prev.rules.length > 0) {
        const all = new Set(prev.rules);
        for (const r of fired) all.add(r);
        rules = [...all];
      } else rules = [...fired];
      ev.redacted = { count: (prev?.count ?? 0) + count, rules: rules.sort() };
    }
    return ev;
  }

  function describe(): string[] {
    const lines: string[] = [];
    const l = cfg.limits;
    lines.push(
      `limits: strings over ${l.max_string_length} chars and containers deeper than ${l.max_depth} are masked; ` +
        `arrays over ${l.max_array_items} items and objects over ${l.max_object_keys} keys are cut with a [REDACTED] marker (rule: limits)`,
    );
    if (hideHeaders)
      lines.push('hide_all_headers: header and cookie containers are removed (rule: headers)');
    else
      lines.push(
        'hide_all_headers: off (credential headers are still masked by always_secret_keys)',
      );
    if (cfg.hide_query_parameters.length > 0) {
      lines.push(
        `hide_query_parameters: parameters of queries named ${cfg.hide_query_parameters.join(', ')} are replaced (rule: query_parameters)`,
      );
    }
    for (const r of rules) {
      const what =
        r.kind === 'drop'
          ? 'removed'
          : r.kind === 'mask'
            ? 'replaced with [REDACTED]'
            : r.kind === 'hash'
              ? `replaced with hmac:${cfg.hash.key_id}:<HMAC-SHA-256>`
              : `masked but the last ${r.keepLast} characters`;
      lines.push(`${r.kind}: ${r.path} is ${what} (rule: ${r.kind})`);
    }
    const ask = cfg.always_secret_keys;
    lines.push(
      ask.enabled
        ? `always_secret_keys: on, values under credential-named keys are masked (rule: secret_key)` +
            (ask.extra.length > 0 ? `; extra: ${ask.extra.join(', ')}` : '') +
            (ask.except.length > 0 ? `; except: ${ask.except.join(', ')}` : '')
        : 'always_secret_keys: off',
    );
    for (const name of [
      'card',
      'ssn',
      'jwt',
      'bearer',
      'basic_auth',
      'aws',
      'vendor_tokens',
      'private_key',
      'url_credentials',
    ] as const) {
      lines.push(`detector ${name}: ${d[name] ? 'on' : 'off'}`);
    }
    lines.push(
      `detector email: ${emailPolicy}` +
        (emailPolicy === 'hash'
          ? ` (hmac:${cfg.hash.key_id})`
          : emailPolicy === 'mask'
            ? ' (local part replaced, domain kept)'
            : ''),
    );
    lines.push(`detector ip: ${d.ip}` + (d.ip === 'truncate' ? ' (/24 and /48)' : ''));
    for (const c of cfg.detectors.custom)
      lines.push(`detector custom:${c.name}: /${c.pattern}/ → ${c.replace}`);
    lines.push(
      sqlOn
        ? `sql_literals: on for keys ${[...defaultSqlKeys(), ...cfg.sql_literals.keys].join(', ')} (rule: sql_literals)`
        : 'sql_literals: off',
    );
    lines.push(
      jsonOn
        ? `json_in_strings: on, ${jsonMax} level(s); deeper JSON strings are masked (rule: json_in_strings)`
        : 'json_in_strings: off',
    );
    if (hasher !== null) lines.push(`hash key: set, key_id ${cfg.hash.key_id}`);
    return lines;
  }

  return { apply, describe };
}
