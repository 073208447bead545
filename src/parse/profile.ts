/**
 * What a profile is, and the helpers every profile uses to map a record while
 * keeping what it did not map (the app's data is never dropped: unmapped fields
 * go to `detail`).
 */
import type { Actor, Outcome, Severity, Target } from '../event/types.js';
import type { CompiledPath } from './path.js';
import type { Json, ParsedTime } from './values.js';
import { normaliseMetadata, parseOutcome, setOwn } from './values.js';

/** A record mapped onto AuditEvent fields; the parser adds id, classification and source. */
export interface Mapped {
  product: string;
  action: string;
  appEventId: string | null;
  /** The record's own event time, null when it has none or it could not be read. */
  time: ParsedTime | null;
  actor: Actor;
  target: Target;
  organizationId: string | null;
  durationMs: number | null;
  /** Null when the record says nothing about it (the parser then looks at the action name). */
  outcome: Outcome | null;
  /** The record's own severity, which may raise (never lower) the table's. */
  ownSeverity: Severity | null;
  detail: Json;
}

export interface Profile {
  readonly name: string;
  /**
   * Key names: a line can only hold a record of this profile if one of them is a key
   * somewhere in it (checked on the text before JSON.parse; see `markerPrecheck` in
   * index.ts). Each must be a whole key name the record always has, or a prefix of
   * one (`action` for `actionType`): the pre-check looks for it right after a `"`.
   */
  readonly markers: readonly string[];
  /** Fixed place of the record in the line (custom `envelope:`); undefined = searched. */
  readonly envelope?: CompiledPath;
  /** The record to map (possibly normalised) when `rec` is one of this profile's, else null. */
  match(rec: Json): Json | null;
  map(rec: Json): Mapped;
}

/**
 * Tracks which of a record's top-level keys were mapped. A key counts as used only
 * when its value was actually read into a field, so a value of an unexpected type
 * stays in `detail` instead of vanishing.
 */
export class UsedKeys {
  readonly keys = new Set<string>();
  constructor(readonly rec: Json) {}

  /** Convert `rec[key]`; mark the key used when the conversion produced a value. */
  take<T>(key: string, convert: (v: unknown) => T | null): T | null {
    if (!Object.hasOwn(this.rec, key)) return null;
    const out = convert(this.rec[key]);
    if (out !== null) this.keys.add(key);
    return out;
  }

  /** The first of `keys` that converts to a value. */
  takeFirst<T>(keys: readonly string[], convert: (v: unknown) => T | null): T | null {
    for (const k of keys) {
      const out = this.take(k, convert);
      if (out !== null) return out;
    }
    return null;
  }

  /**
   * The unmapped top-level fields, in the record's order. `metadata` is given in
   * parsed form (a JSON string becomes the object it holds).
   */
  unmapped(metadata?: unknown): Json {
    const out: Json = {};
    for (const k of Object.keys(this.rec)) {
      if (this.keys.has(k)) continue;
      let v = this.rec[k];
      if (k === 'metadata') v = metadata !== undefined ? metadata : normaliseMetadata(v);
      setOwn(out, k, v);
    }
    return out;
  }
}

const OUTCOME_VALUES: ReadonlySet<unknown> = new Set(['success', 'failure', 'unknown']);

/**
 * Outcome from the usual fields: `outcome`, then `success`, `status`, `result`.
 * Only an `outcome` that is already one of success/failure/unknown is consumed;
 * the others keep their exact value in `detail`.
 */
export function readOutcome(used: UsedKeys): Outcome | null {
  const rec = used.rec;
  if (Object.hasOwn(rec, 'outcome')) {
    const o = parseOutcome(rec.outcome);
    if (o !== null) {
      if (OUTCOME_VALUES.has(rec.outcome)) used.keys.add('outcome');
      return o;
    }
  }
  for (const k of ['success', 'status', 'result']) {
    if (Object.hasOwn(rec, k)) {
      const o = parseOutcome(rec[k]);
      if (o !== null) return o;
    }
  }
  return null;
}
