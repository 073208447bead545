/**
 * YAML-defined profiles (config.ts): a match condition plus a field path for each
 * AuditEvent field, compiled once into a Profile.
 */
import { emptyActor, emptyTarget } from '../event/types.js';
import type { CustomFields, CustomProfile, MatchCondition } from './config.js';
import type { CompiledPath } from './path.js';
import { compilePath, resolvePath } from './path.js';
import type { Mapped, Profile } from './profile.js';
import { UsedKeys } from './profile.js';
import type { Json } from './values.js';
import {
  freeKey,
  isObject,
  normaliseIp,
  normaliseMetadata,
  parseOutcome,
  parseSeverityWord,
  parseTimestamp,
  setOwn,
  toDuration,
  toId,
} from './values.js';

type Test = (rec: Json) => boolean;

/** Compile a match condition into a predicate. Comparisons are strict (`1` ≠ `"1"`). */
export function compileCondition(c: MatchCondition): Test {
  if (c.all !== undefined) {
    const parts = c.all.map(compileCondition);
    return (rec) => parts.every((t) => t(rec));
  }
  if (c.any !== undefined) {
    const parts = c.any.map(compileCondition);
    return (rec) => parts.some((t) => t(rec));
  }
  if (c.field === undefined) return () => false; // rejected by the schema; never matches
  const path = compilePath(c.field);
  const tests: Array<(v: unknown) => boolean> = [];
  if (c.exists !== undefined) {
    const want = c.exists;
    tests.push((v) => (v !== undefined && v !== null) === want);
  }
  if (c.equals !== undefined) {
    const want = c.equals;
    tests.push((v) => v === want);
  }
  if (c.in !== undefined) {
    const set = new Set<unknown>(c.in);
    tests.push((v) => set.has(v));
  }
  if (c.prefix !== undefined) {
    const want = c.prefix;
    tests.push((v) => typeof v === 'string' && v.startsWith(want));
  }
  return (rec) => {
    const v = resolvePath(rec, path);
    return tests.every((t) => t(v));
  };
}

/** The substring every line holding this profile's action must contain: the action's key. */
function markerOf(path: CompiledPath): string {
  for (let i = path.length - 1; i >= 0; i--) {
    if (!/^\d+$/.test(path[i]!)) return path[i]!;
  }
  return '';
}

/** A record with `metadata` given as a JSON string gets it parsed, so paths can reach into it. */
function withParsedMetadata(rec: Json): Json {
  if (typeof rec.metadata !== 'string') return rec;
  const parsed = normaliseMetadata(rec.metadata);
  return parsed === rec.metadata ? rec : { ...rec, metadata: parsed };
}

type FieldName = Exclude<keyof CustomFields, 'action' | 'detail'>;

export function compileCustomProfile(name: string, def: CustomProfile): Profile {
  const test = compileCondition(def.match);
  const actionPath = compilePath(def.fields.action);
  const paths = new Map<FieldName, CompiledPath>();
  for (const [k, v] of Object.entries(def.fields)) {
    if (k !== 'action' && k !== 'detail' && typeof v === 'string')
      paths.set(k as FieldName, compilePath(v));
  }
  const detailPath = def.fields.detail !== undefined ? compilePath(def.fields.detail) : undefined;

  /** Read one mapped field; a single-segment path marks its top-level key as used. */
  function read<T>(u: UsedKeys, field: FieldName, convert: (v: unknown) => T | null): T | null {
    const path = paths.get(field);
    if (path === undefined) return null;
    if (path.length === 1) return u.take(path[0]!, convert);
    return convert(resolvePath(u.rec, path));
  }

  return {
    name,
    markers: [markerOf(actionPath)],
    ...(def.envelope !== undefined ? { envelope: compilePath(def.envelope) } : {}),
    match(raw) {
      const rec = withParsedMetadata(raw);
      return test(rec) && toId(resolvePath(rec, actionPath)) !== null ? rec : null;
    },
    map(rec): Mapped {
      const u = new UsedKeys(rec);
      const action =
        actionPath.length === 1
          ? u.take(actionPath[0]!, toId)!
          : toId(resolvePath(rec, actionPath))!;
      const actor = emptyActor();
      const target = emptyTarget();
      actor.id = read(u, 'actor_id', toId);
      actor.email = read(u, 'actor_email', toId);
      actor.ip = read(u, 'actor_ip', normaliseIp);
      actor.user_agent = read(u, 'actor_user_agent', toId);
      target.type = read(u, 'target_type', toId);
      target.id = read(u, 'target_id', toId);
      target.name = read(u, 'target_name', toId);
      target.app = read(u, 'target_app', toId);
      target.resource = read(u, 'target_resource', toId);

      // Outcome and severity words are consumed only when already in our vocabulary,
      // so `"severity": "high"` keeps its exact word in detail.
      const outcomePath = paths.get('outcome');
      const rawOutcome = outcomePath ? resolvePath(rec, outcomePath) : undefined;
      const outcome = parseOutcome(rawOutcome);
      if (outcomePath?.length === 1 && outcome !== null && outcome === rawOutcome)
        u.keys.add(outcomePath[0]!);
      const severityPath = paths.get('severity');
      const rawSeverity = severityPath ? resolvePath(rec, severityPath) : undefined;
      const ownSeverity = parseSeverityWord(rawSeverity);
      if (severityPath?.length === 1 && ownSeverity !== null && ownSeverity === rawSeverity) {
        u.keys.add(severityPath[0]!);
      }

      const mapped: Mapped = {
        product: def.product,
        action,
        appEventId: read(u, 'app_event_id', toId),
        time: read(u, 'timestamp', parseTimestamp),
        actor,
        target,
        organizationId: read(u, 'organization_id', toId),
        durationMs: read(u, 'duration_ms', toDuration),
        outcome,
        ownSeverity,
        detail: {},
      };

      // detail: the object at `fields.detail` (if any), plus every unmapped top-level
      // field (under `_name` if the name is taken there).
      const own = detailPath ? normaliseMetadata(resolvePath(rec, detailPath)) : undefined;
      if (isObject(own)) {
        if (detailPath!.length === 1) u.keys.add(detailPath![0]!);
        const detail: Json = { ...own };
        const unmapped = u.unmapped();
        for (const k of Object.keys(unmapped)) setOwn(detail, freeKey(detail, k), unmapped[k]);
        mapped.detail = detail;
      } else {
        mapped.detail = u.unmapped();
      }
      return mapped;
    },
  };
}
