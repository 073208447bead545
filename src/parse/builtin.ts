/**
 * The built-in profiles: retool, tooljet, generic (DESIGN.md, "Input shapes to
 * recognise"). Field names come from research/redaction.md §1.4 (Retool's
 * audit_trail_events columns) and §1.6 (ToolJet's audit_logs fields and the
 * camelCase records its log file holds, nested under `auditLog`).
 */
import { RETOOL_ACTIONS, TOOLJET_ACTIONS } from '../event/actions.js';
import { emptyActor, emptyTarget } from '../event/types.js';
import type { Mapped, Profile } from './profile.js';
import { UsedKeys, readOutcome } from './profile.js';
import type { Json } from './values.js';
import {
  freeKey,
  isObject,
  normaliseIp,
  normaliseMetadata,
  parseSeverityWord,
  parseTimestamp,
  setOwn,
  toDuration,
  toId,
  toText,
} from './values.js';

const EMAIL_KEYS = ['userEmail', 'user_email', 'email'] as const;

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

/** `metadata.user.email`: where Retool-style metadata carries the acting user. */
function emailFromMetadata(metadata: unknown): string | null {
  if (!isObject(metadata)) return null;
  const user = metadata.user;
  return isObject(user) ? toText(user.email) : null;
}

/**
 * A camelCase `actionType` record that is ToolJet's rather than Retool's: ToolJet's
 * log file writes `resourceType` / `resourceId` and `metadata.tooljetVersion`,
 * which Retool's rows do not have, and its action names differ.
 */
function looksLikeToolJet(rec: Json): boolean {
  if (Object.hasOwn(rec, 'resourceType') || Object.hasOwn(rec, 'resourceId')) return true;
  const meta = rec.metadata;
  if (
    isObject(meta) &&
    (Object.hasOwn(meta, 'tooljetVersion') || Object.hasOwn(meta, 'tooljet_version'))
  ) {
    return true;
  }
  const action = rec.actionType;
  return (
    typeof action === 'string' &&
    Object.hasOwn(TOOLJET_ACTIONS, action) &&
    !Object.hasOwn(RETOOL_ACTIONS, action)
  );
}

/**
 * Retool: one audit_trail_events row as JSON. `strict` (auto mode) leaves
 * ToolJet-looking camelCase records to the tooljet profile.
 */
export function retoolProfile(strict: boolean): Profile {
  return {
    name: 'retool',
    markers: ['actionType'],
    match: (rec) =>
      nonEmptyString(rec.actionType) && !(strict && looksLikeToolJet(rec)) ? rec : null,
    map(rec): Mapped {
      const u = new UsedKeys(rec);
      const action = u.take('actionType', toText)!;
      const metadata = normaliseMetadata(rec.metadata);
      const actor = emptyActor();
      const target = emptyTarget();
      const appEventId = u.take('id', toId);
      actor.id = u.take('userId', toId);
      actor.email = u.takeFirst(EMAIL_KEYS, toText) ?? emailFromMetadata(metadata);
      actor.ip = u.take('ipAddress', normaliseIp);
      actor.user_agent = u.take('userAgent', toText);
      const organizationId = u.take('organizationId', toId);
      const durationMs = u.take('responseTimeMs', toDuration);
      target.app = u.take('pageName', toText);
      target.name = u.take('queryName', toText);
      target.resource = u.take('resourceName', toText);
      target.type =
        target.name !== null
          ? 'query'
          : target.app !== null
            ? 'app'
            : target.resource !== null
              ? 'resource'
              : null;
      const time = u.take('createdAt', parseTimestamp);
      const outcome = readOutcome(u);
      return {
        product: 'retool',
        action,
        appEventId,
        time,
        actor,
        target,
        organizationId,
        durationMs,
        outcome,
        ownSeverity: null,
        detail: u.unmapped(metadata),
      };
    },
  };
}

/** ToolJet: `audit_logs` rows (snake_case) or its log file's camelCase records. */
export function tooljetProfile(strict: boolean): Profile {
  return {
    name: 'tooljet',
    markers: ['action_type', 'actionType'],
    match(rec) {
      if (nonEmptyString(rec.action_type)) return rec;
      if (nonEmptyString(rec.actionType) && (!strict || looksLikeToolJet(rec))) return rec;
      return null;
    },
    map(rec): Mapped {
      const u = new UsedKeys(rec);
      const action = u.takeFirst(['action_type', 'actionType'], toText)!;
      const metadata = normaliseMetadata(rec.metadata);
      const actor = emptyActor();
      const target = emptyTarget();
      const appEventId = u.take('id', toId);
      actor.id = u.takeFirst(['user_id', 'userId'], toId);
      actor.email = u.takeFirst(EMAIL_KEYS, toText) ?? emailFromMetadata(metadata);
      actor.ip = u.takeFirst(['ip_address', 'ipAddress'], normaliseIp);
      // ToolJet puts the user agent inside metadata (user_agent / userAgent); it stays there too.
      actor.user_agent =
        u.takeFirst(['user_agent', 'userAgent'], toText) ??
        (isObject(metadata) ? (toText(metadata.user_agent) ?? toText(metadata.userAgent)) : null);
      const organizationId = u.takeFirst(['organization_id', 'organizationId'], toId);
      target.id = u.takeFirst(['resource_id', 'resourceId'], toId);
      target.name = u.takeFirst(['resource_name', 'resourceName'], toText);
      target.type = u.takeFirst(['resource_type', 'resourceType'], toText);
      // An APP resource is the app itself: fill target.app so routes on it work for both products.
      if (target.type !== null && target.type.toUpperCase() === 'APP') target.app = target.name;
      const time = u.takeFirst(['created_at', 'createdAt'], parseTimestamp);
      const outcome = readOutcome(u);
      return {
        product: 'tooljet',
        action,
        appEventId,
        time,
        actor,
        target,
        organizationId,
        durationMs: null,
        outcome,
        ownSeverity: null,
        detail: u.unmapped(metadata),
      };
    },
  };
}

const ACTOR_KEYS = {
  id: ['id', 'user_id', 'userId'],
  email: ['email', 'user_email', 'userEmail'],
  ip: ['ip', 'ip_address', 'ipAddress'],
  user_agent: ['user_agent', 'userAgent'],
} as const;

/** The sub-object's keys that were not mapped, or null when none are left. */
function rest(used: UsedKeys): Json | null {
  const out = used.unmapped();
  return Object.keys(out).length > 0 ? out : null;
}

/**
 * Generic: `{ actor, action, target: {type,id,name}, severity, detail, ip, timestamp,
 * outcome }`. An `action` alone is too common in ordinary logs, so a record also
 * needs an `actor` or a `target`.
 */
export function genericProfile(): Profile {
  return {
    name: 'generic',
    markers: ['action'],
    match(rec) {
      if (!nonEmptyString(rec.action)) return null;
      const { actor, target } = rec;
      const hasActor = nonEmptyString(actor) || typeof actor === 'number' || isObject(actor);
      const hasTarget = nonEmptyString(target) || isObject(target);
      return hasActor || hasTarget ? rec : null;
    },
    map(rec): Mapped {
      const u = new UsedKeys(rec);
      const action = u.take('action', toText)!;
      const actor = emptyActor();
      const target = emptyTarget();
      let actorRest: Json | null = null;
      let targetRest: Json | null = null;

      const a = rec.actor;
      if (typeof a === 'string' || typeof a === 'number') {
        const s = toId(a);
        if (s !== null) {
          if (s.includes('@')) actor.email = s;
          else actor.id = s;
          u.keys.add('actor');
        }
      } else if (isObject(a)) {
        const au = new UsedKeys(a);
        actor.id = au.takeFirst(ACTOR_KEYS.id, toId);
        actor.email = au.takeFirst(ACTOR_KEYS.email, toText);
        actor.ip = au.takeFirst(ACTOR_KEYS.ip, normaliseIp);
        actor.user_agent = au.takeFirst(ACTOR_KEYS.user_agent, toText);
        actorRest = rest(au);
        u.keys.add('actor');
      }
      if (actor.ip === null) actor.ip = u.takeFirst(['ip', 'ip_address', 'ipAddress'], normaliseIp);
      if (actor.user_agent === null)
        actor.user_agent = u.takeFirst(['user_agent', 'userAgent'], toText);

      const t = rec.target;
      if (typeof t === 'string' && t !== '') {
        target.name = t;
        u.keys.add('target');
      } else if (isObject(t)) {
        const tu = new UsedKeys(t);
        target.type = tu.take('type', toText);
        target.id = tu.take('id', toId);
        target.name = tu.take('name', toText);
        target.app = tu.take('app', toText);
        target.resource = tu.take('resource', toText);
        targetRest = rest(tu);
        u.keys.add('target');
      }

      const appEventId = u.takeFirst(['id', 'event_id', 'eventId'], toId);
      const time = u.take('timestamp', parseTimestamp);
      const organizationId = u.takeFirst(['organization_id', 'org_id', 'organizationId'], toId);
      const durationMs = u.take('duration_ms', toDuration);
      const ownSeverity = parseSeverityWord(rec.severity);
      // The exact word is kept in detail unless it already is one of ours.
      if (ownSeverity !== null && ownSeverity === rec.severity) u.keys.add('severity');
      const outcome = readOutcome(u);

      // detail: the app's own `detail` object, plus every unmapped top-level field
      // (under `_name` if the name is taken), plus what was left of actor / target.
      const own = rec.detail;
      let detail: Json;
      if (isObject(own)) {
        u.keys.add('detail');
        detail = { ...own };
        const unmapped = u.unmapped();
        for (const k of Object.keys(unmapped)) setOwn(detail, freeKey(detail, k), unmapped[k]);
      } else {
        detail = u.unmapped();
      }
      if (actorRest !== null) setOwn(detail, freeKey(detail, 'actor'), actorRest);
      if (targetRest !== null) setOwn(detail, freeKey(detail, 'target'), targetRest);

      return {
        product: 'generic',
        action,
        appEventId,
        time,
        actor,
        target,
        organizationId,
        durationMs,
        outcome,
        ownSeverity,
        detail,
      };
    },
  };
}
