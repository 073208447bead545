/**
 * Parsing: one framed record → an AuditEvent, or "not an audit event", or
 * "malformed". Pure and in memory (DESIGN.md, data flow); redaction runs next.
 *
 * Hot path: most lines are not audit events, so two cheap string tests run before
 * any JSON.parse — the text must start with `{` or `[`, and must contain a marker
 * (the action key of some enabled profile: `action` covers `actionType` and
 * `action_type`). A key can only be spelled without its letters through a `\u`
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

/** Markers with any marker that contains another removed (`actionType` ⊃ `action`). */
function minimalMarkers(profiles: readonly Profile[]): string[] {
  const all = [...new Set(profiles.flatMap((p) => p.markers))];
  return all.filter((m) => !all.some((o) => o !== m && m.includes(o)));
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
  const markers = minimalMarkers([...custom, ...builtin]);

  function mayHoldAudit(text: string): boolean {
    for (const m of markers) if (text.includes(m)) return true;
    return text.includes('\\u');
  }

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
