/**
 * Parsing: one framed record → an AuditEvent, or "not an audit event", or
 * "malformed". Pure and in memory (DESIGN.md, data flow); redaction runs next.
 *
 * Hot path: most lines are not audit events, so two cheap string tests run before
 * any JSON.parse — the text must start with `{` or `[`, and must contain a marker
 * KEY (the action key of some enabled profile: `action` covers `actionType` and
 * `action_type`) right after a `"`, as every JSON key is written (see
 * `markerPrecheck`). A key can only be spelled without its letters through a `\u`
 * escape, so text containing `\u` is always parsed: the pre-check never hides an
 * audit event.
 */
import { actionImpliesFailure, classifyAction } from '../event/actions.js';
import { eventId } from '../event/canonical.js';
import type { AuditEvent, Outcome } from '../event/types.js';
import { severityRank } from '../event/types.js';
import type { LogRecord } from '../framing/types.js';
import { genericProfile, retoolProfile, tooljetProfile } from './builtin.js';
import type { CustomProfile } from './config.js';
import { BUILTIN_PROFILE_NAMES } from './config.js';
import { compileCustomProfile } from './custom.js';
import type { Candidate } from './locate.js';
import { candidateAt, candidates, envelopeOf } from './locate.js';
import type { Mapped, Profile } from './profile.js';
import type { Json, ParsedTime } from './values.js';
import {
  freeKey,
  isObject,
  parseJsonBounded,
  parseTimestamp,
  setOwn,
  skipSpace,
} from './values.js';

export type ParseResult =
  | { kind: 'audit'; event: AuditEvent; knownAction: boolean }
  | { kind: 'non_audit' }
  | { kind: 'malformed'; reason: string };

export interface ParserOptions {
  /** `auto | retool | tooljet | generic | <custom profile name>` */
  profile: string;
  profiles: Record<string, CustomProfile>;
  host: string;
  /** The configured source name. */
  source: string;
  /**
   * The marker pre-check before JSON.parse (default on). Off parses every JSON line:
   * the slow path the tests compare the pre-check against.
   */
  precheck?: boolean;
}

export interface ParseContext {
  /** Path the record was read from; null for stdin. */
  file: string | null;
  /** Stream identity for deterministic ids (file id, or a per-run id for stdin). */
  streamId: string;
}

export type RecordParser = (record: LogRecord, ctx: ParseContext) => ParseResult;

/** Built-in profile names a source's `profile:` may use besides `auto` and custom names. */
export const BUILTIN_PROFILES = ['retool', 'tooljet', 'generic'] as const;

const NON_AUDIT: ParseResult = Object.freeze({ kind: 'non_audit' });

/** Logger-style time fields, tried when a record's own time field is missing. */
const FALLBACK_TIME_KEYS = ['timestamp', 'time', '@timestamp', 'ts'] as const;

/**
 * The longest prefix of a key name that every JSON writer writes literally. Besides
 * `\uXXXX` (which the pre-check answers separately), JSON has escapes for `"`, `\`,
 * `/` (PHP and others write `\/`) and five control characters; a key is found by its
 * letters only up to the first of those.
 */
function literalPrefix(key: string): string {
  const i = key.search(/["\\/\u0000-\u001f]/);
  return i === -1 ? key : key.slice(0, i);
}

/**
 * The pre-check run before JSON.parse: false only when `text` cannot hold any of the
 * `markers` as a key. A key is written as `"` + its name, so each marker (cut to
 * its literal prefix) is searched for and a hit counts only when a `"` precedes it
 * (a key, or a string value that starts with the name): "transaction" or "the
 * action failed" in an ordinary log message no longer costs a full parse. Keys
 * nested in JSON-in-string values are written `\"key`, still right after a `"`.
 * Text holding a `\u` escape may spell a key without its letters and always passes.
 *
 * The search is for the bare name, with the quote checked at each hit: on real lines
 * that is as fast as searching for the name alone, and faster than searching for
 * `"name` (a needle starting with the most frequent character of JSON text).
 */
export function markerPrecheck(markers: readonly string[]): (text: string) => boolean {
  const all = [...new Set(markers.map(literalPrefix))];
  // A needle with another as its prefix adds nothing: `"actionType` implies `"action`.
  const needles = all.filter((m) => !all.some((o) => o !== m && m.startsWith(o)));
  if (needles.includes('')) return () => true;
  const keyAt = (text: string, name: string): boolean => {
    for (let i = text.indexOf(name); i !== -1; i = text.indexOf(name, i + 1)) {
      if (i > 0 && text.charCodeAt(i - 1) === 0x22) return true;
    }
    return false;
  };
  if (needles.length === 1) {
    const only = needles[0]!;
    return (text) => keyAt(text, only) || text.includes('\\u');
  }
  return (text) => {
    for (const m of needles) if (keyAt(text, m)) return true;
    return text.includes('\\u');
  };
}

function fallbackTime(obj: Json): ParsedTime | null {
  for (const k of FALLBACK_TIME_KEYS) {
    if (Object.hasOwn(obj, k)) {
      const t = parseTimestamp(obj[k]);
      if (t !== null) return t;
    }
  }
  return null;
}

/**
 * The event time. A time that names its zone beats one that does not: the
 * record's own field, then logger fields on the record and on the line around it,
 * then the container runtime's time (CRI / Docker, always UTC), then zone-less
 * times read as UTC, then now.
 */
function eventTime(mapped: Mapped, cand: Candidate, root: Json, record: LogRecord): string {
  if (mapped.time !== null && mapped.time.zoned) return mapped.time.iso; // the common case
  const tries: Array<ParsedTime | null> = [mapped.time, fallbackTime(cand.rec)];
  if (cand.rec !== root) tries.push(fallbackTime(root));
  for (const t of tries) if (t !== null && t.zoned) return t.iso;
  if (record.time !== undefined) {
    const rt = parseTimestamp(record.time);
    if (rt !== null) return rt.iso;
  }
  for (const t of tries) if (t !== null) return t.iso;
  return new Date().toISOString();
}

/** Resolve `opts.profile` to the profiles to try. Throws on an unknown name. */
function selectProfiles(opts: ParserOptions): { custom: Profile[]; builtin: Profile[] } {
  const custom = Object.entries(opts.profiles).map(([name, def]) =>
    compileCustomProfile(name, def),
  );
  switch (opts.profile) {
    case 'auto':
      return { custom, builtin: [retoolProfile(true), tooljetProfile(true), genericProfile()] };
    case 'retool':
      return { custom: [], builtin: [retoolProfile(false)] };
    case 'tooljet':
      return { custom: [], builtin: [tooljetProfile(false)] };
    case 'generic':
      return { custom: [], builtin: [genericProfile()] };
    default: {
      const p = custom.find((c) => c.name === opts.profile);
      if (p === undefined) {
        const names = [...BUILTIN_PROFILE_NAMES, ...Object.keys(opts.profiles)].join(', ');
        throw new Error(`unknown profile "${opts.profile}" (known: ${names})`);
      }
      return { custom: [p], builtin: [] };
    }
  }
}

export function compileParser(opts: ParserOptions): RecordParser {
  const { custom, builtin } = selectProfiles(opts);
  const mayHoldAudit =
    opts.precheck === false
      ? () => true
      : markerPrecheck([...custom, ...builtin].flatMap((p) => p.markers));

  /**
   * Custom profiles first, each searching the whole line (a user's profile is the
   * most specific knowledge there is); then the built-ins, shallowest record first
   * and retool → tooljet → generic at each depth.
   */
  function locate(root: Json): { profile: Profile; cand: Candidate; rec: Json } | null {
    const at = candidates(root);
    for (const profile of custom) {
      if (profile.envelope !== undefined) {
        const cand = candidateAt(root, profile.envelope);
        const rec = cand ? profile.match(cand.rec) : null;
        if (cand && rec) return { profile, cand, rec };
        continue;
      }
      for (let i = 0, cand = at(0); cand !== undefined; cand = at(++i)) {
        const rec = profile.match(cand.rec);
        if (rec) return { profile, cand, rec };
      }
    }
    if (builtin.length === 0) return null;
    for (let i = 0, cand = at(0); cand !== undefined; cand = at(++i)) {
      for (const profile of builtin) {
        const rec = profile.match(cand.rec);
        if (rec) return { profile, cand, rec };
      }
    }
    return null;
  }

  return function parseRecord(record: LogRecord, ctx: ParseContext): ParseResult {
    const text = record.text;
    const start = skipSpace(text);
    const first = text.charCodeAt(start);
    if (first !== 0x7b && first !== 0x5b) return NON_AUDIT; // not JSON: plain text, binary
    if (!mayHoldAudit(text)) return NON_AUDIT;

    const parsed = parseJsonBounded(start > 0 ? text.slice(start) : text);
    if (!parsed.ok) {
      const why = record.truncated
        ? ' (record was cut at the line size limit)'
        : record.incomplete
          ? ' (partial record that never got its final piece)'
          : '';
      return { kind: 'malformed', reason: parsed.error + why };
    }
    const root = parsed.value;
    if (!isObject(root)) return NON_AUDIT;

    const found = locate(root);
    if (found === null) return NON_AUDIT;
    const { profile, cand, rec } = found;
    const m = profile.map(rec);

    const cls = classifyAction(m.product, m.action);
    let severity = cls.severity;
    if (m.ownSeverity !== null && severityRank(m.ownSeverity) > severityRank(severity)) {
      severity = m.ownSeverity;
    }
    const outcome: Outcome = m.outcome ?? (actionImpliesFailure(m.action) ? 'failure' : 'unknown');
    // A failed authentication is critical whatever the action's table entry says.
    if (outcome === 'failure' && cls.category === 'authentication') severity = 'critical';

    const detail = m.detail;
    const envelope = envelopeOf(cand.chain);
    if (envelope !== null) setOwn(detail, freeKey(detail, 'envelope'), envelope);

    const event: AuditEvent = {
      id: eventId(ctx.streamId, record.offset),
      app_event_id: m.appEventId,
      timestamp: eventTime(m, cand, root, record),
      product: m.product,
      action: m.action,
      category: cls.category,
      severity,
      outcome,
      actor: m.actor,
      target: m.target,
      organization_id: m.organizationId,
      duration_ms: m.durationMs,
      detail,
      redacted: { count: 0, rules: [] },
      source: {
        name: opts.source,
        host: opts.host,
        file: ctx.file,
        offset: ctx.file !== null ? record.offset : null,
      },
    };
    return { kind: 'audit', event, knownAction: cls.known };
  };
}
