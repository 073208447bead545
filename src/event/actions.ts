/**
 * Action → category / severity.
 *
 * Severity follows DESIGN.md "The AuditEvent": critical = authentication failures,
 * security and permission changes, destructive actions (deletes, disables, reverts,
 * 2FA disabled); warn = user lifecycle, settings and resource changes, deploys and
 * releases; info = everything else (query runs, page views, logins).
 *
 * Retool and ToolJet actions come from fixed tables (research/redaction.md §1.3–1.6;
 * ToolJet's `ActionTypes` enum). Anything else — generic dotted actions such as
 * `auth.login_failure`, and table misses such as an action a newer Retool adds — is
 * classified by its words, so a new `DELETE_SOMETHING` is still critical.
 */
import type { Severity } from './types.js';

export const CATEGORIES = [
  'query',
  'page',
  'authentication',
  'user',
  'group',
  'permission',
  'organization',
  'resource',
  'app',
  'workflow',
  'export',
  'settings',
  'deployment',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface ActionInfo {
  readonly category: Category;
  readonly severity: Severity;
}

export interface ActionClass {
  category: Category;
  severity: Severity;
  /** True when the action is in the product's table (or, for other products, its words were recognised). */
  known: boolean;
}

const a = (category: Category, severity: Severity): ActionInfo =>
  Object.freeze({ category, severity });

/** Retool `actionType` values (audit_trail_events; research/redaction.md §1.3–1.5). */
export const RETOOL_ACTIONS: Readonly<Record<string, ActionInfo>> = Object.freeze({
  QUERY_RUN: a('query', 'info'),
  QUERY_PREVIEW: a('query', 'info'),
  PLAYGROUND_QUERY_RUN: a('query', 'info'),
  PAGE_VIEW: a('page', 'info'),
  // An app export carries resource and query definitions out of the platform.
  PAGE_EXPORT: a('export', 'warn'),
  LOGIN: a('authentication', 'info'),
  LOGOUT: a('authentication', 'info'),
  // A passwordless login request is a login attempt, not a credential change.
  REQUEST_PASSWORDLESS_LOGIN: a('authentication', 'info'),
  REQUEST_PASSWORD_RESET_LINK: a('authentication', 'warn'),
  // Confirming the reset link changes the password: a security change.
  CONFIRM_PASSWORD_RESET_LINK: a('authentication', 'critical'),
  DISABLE_TWO_FACTOR_AUTH: a('authentication', 'critical'),
  ACCESS_TOKEN_CREATED: a('authentication', 'critical'),
  ACCESS_TOKEN_REVOKED: a('authentication', 'critical'),
  SIGN_UP: a('user', 'warn'),
  INVITE_USER: a('user', 'warn'),
  RE_INVITE_USER: a('user', 'warn'),
  REDEEM_INVITE: a('user', 'warn'),
  ENABLE_USER: a('user', 'warn'),
  USER_NAME_CHANGE: a('user', 'warn'),
  DISABLE_USER: a('user', 'critical'),
  // Retool groups are its permission mechanism: every group change is a permission change.
  CREATE_GROUP: a('group', 'critical'),
  UPDATE_GROUP: a('group', 'critical'),
  DELETE_GROUP: a('group', 'critical'),
  ADD_USERS_TO_GROUP: a('group', 'critical'),
  REMOVE_USERS_FROM_GROUP: a('group', 'critical'),
  UPDATE_ORGANIZATION: a('organization', 'warn'),
  CREATE_RESOURCE: a('resource', 'warn'),
  UPDATE_RESOURCE: a('resource', 'warn'),
  DELETE_RESOURCE: a('resource', 'critical'),
  CONFIG_VAR_CREATE: a('settings', 'warn'),
  CONFIG_VAR_UPDATE: a('settings', 'warn'),
  CONFIG_VAR_DELETE: a('settings', 'critical'),
  CREATE_WORKFLOW: a('workflow', 'warn'),
  RELEASE_WORKFLOW: a('workflow', 'warn'),
  ENABLE_WORKFLOW: a('workflow', 'warn'),
  ENABLE_TRIGGER: a('workflow', 'warn'),
  DELETE_WORKFLOW: a('workflow', 'critical'),
  DISABLE_WORKFLOW: a('workflow', 'critical'),
  DISABLE_TRIGGER: a('workflow', 'critical'),
  VIEW_WORKFLOW: a('workflow', 'info'),
  RUN_WORKFLOW: a('workflow', 'info'),
  RUN_WORKFLOW_BLOCK: a('workflow', 'info'),
});

/**
 * ToolJet `action_type` values (research/redaction.md §1.6 and ToolJet's `ActionTypes`
 * enum; the GROUP_* and DATA_SOURCE_* / GIT_SYNC_* names appear in older docs and source).
 */
export const TOOLJET_ACTIONS: Readonly<Record<string, ActionInfo>> = Object.freeze({
  USER_LOGIN: a('authentication', 'info'),
  USER_SIGNUP: a('user', 'warn'),
  USER_INVITE: a('user', 'warn'),
  USER_INVITE_REDEEM: a('user', 'warn'),
  APP_VIEW: a('app', 'info'),
  APP_CREATE: a('app', 'warn'),
  APP_UPDATE: a('app', 'warn'),
  APP_IMPORT: a('app', 'warn'),
  APP_CLONE: a('app', 'warn'),
  APP_DELETE: a('app', 'critical'),
  APP_EXPORT: a('export', 'warn'),
  DATA_QUERY_RUN: a('query', 'info'),
  // A ToolJet "group permission" is a permission group (create/update/delete of groups
  // and their members); APP_GROUP_PERMISSION_UPDATE changes an app's view/edit grant.
  GROUP_PERMISSION_CREATE: a('group', 'critical'),
  GROUP_PERMISSION_UPDATE: a('group', 'critical'),
  GROUP_PERMISSION_DELETE: a('group', 'critical'),
  APP_GROUP_PERMISSION_UPDATE: a('permission', 'critical'),
  GROUP_CREATE: a('group', 'critical'),
  GROUP_UPDATE: a('group', 'critical'),
  GROUP_DELETE: a('group', 'critical'),
  DATA_SOURCE_CREATE: a('resource', 'warn'),
  DATA_SOURCE_UPDATE: a('resource', 'warn'),
  DATA_SOURCE_DELETE: a('resource', 'critical'),
  GIT_SYNC_ENABLE: a('settings', 'warn'),
  GIT_SYNC_FINALISE: a('settings', 'warn'),
  GIT_SYNC_DISABLE: a('settings', 'critical'),
  GIT_SYNC_DELETE: a('settings', 'critical'),
  TRIAL_GENERATION_FOR_WORKSPACE: a('organization', 'info'),
});

/** Tables keyed by product; lookups go through Maps so `constructor` & co. are never "known". */
const TABLES: ReadonlyMap<string, ReadonlyMap<string, ActionInfo>> = new Map([
  ['retool', new Map(Object.entries(RETOOL_ACTIONS))],
  ['tooljet', new Map(Object.entries(TOOLJET_ACTIONS))],
]);

// ---------------------------------------------------------------------------
// Word heuristics for actions outside the tables.

const words = (s: string): ReadonlySet<string> => new Set(s.split(' '));

/** Destructive verbs: always critical (deletes, disables, reverts, revocations). */
const DESTRUCTIVE = words(
  'delete deleted deletion remove removed removal destroy destroyed purge purged disable disabled ' +
    'revoke revoked revocation reset revert reverted rollback wipe wiped drop dropped erase erased ' +
    'deactivate deactivated suspend suspended ban banned block blocked lock locked lockout terminate ' +
    'terminated unlink unlinked uninstall uninstalled unshare unshared',
);

/** Words that mean the action failed or was refused. */
const FAILURE = words(
  'fail failed failure failures denied deny rejected reject unauthorized unauthorised forbidden',
);

/** Refusals are security-relevant wherever they occur. */
const REFUSAL = words('denied deny rejected reject unauthorized unauthorised forbidden');

/** Always critical on their own: privilege changes. */
const PRIVILEGE_VERBS = words(
  'grant granted escalate escalated elevate elevated impersonate impersonation sudo',
);

/** The authentication domain: a failure here is critical. */
const AUTH_NOUNS = words(
  'auth authentication authn login logon signin session sessions password passwords passwd ' +
    'passwordless mfa 2fa otp totp sso saml oidc oauth token tokens apikey credential credentials ' +
    'factor webauthn passkey',
);

/** Security-bearing nouns: changing one of them is a security change (critical). */
const SECURITY_NOUNS = words(
  'role roles permission permissions perm perms access acl acls privilege privileges policy ' +
    'policies admin admins owner ownership sso saml oidc mfa 2fa password passwords secret secrets ' +
    'credential credentials token tokens apikey key keys certificate certificates cert scope scopes ' +
    'security allowlist whitelist',
);

/** Change verbs: warn on their own, critical on a security noun. */
const CHANGE_VERBS = words(
  'create created add added update updated modify modified edit edited change changed set ' +
    'assign assigned unassign promote promoted demote demoted rotate rotated enable enabled issue ' +
    'issued generate generated regenerate transfer transferred rename renamed configure configured',
);

/** Further warn verbs: lifecycle, deploys and releases, data movement. */
const WARN_VERBS = words(
  'invite invited reinvite redeem redeemed signup register registered deploy deployed deployment ' +
    'release released publish published unpublish import imported export exported restore restored ' +
    'clone cloned copy copied move moved upload uploaded install installed upgrade upgraded approve ' +
    'approved archive archived activate activated join joined share shared provision provisioned ' +
    'sync synced unlock unlocked',
);

/** Words recognised without changing severity (so a generic `auth.login` counts as known). */
const INFO_WORDS = words(
  'login logout logoff signout view viewed run ran read list get show search open opened access ' +
    'accessed preview execute executed query download downloaded visit visited',
);

/**
 * Categories that win wherever their word appears (`user.role_change` is a permission
 * event, `app.export` an export); otherwise the first word naming an object decides
 * (`group.member_remove` → group).
 */
const OVERRIDING_CATEGORIES: ReadonlySet<Category> = new Set([
  'authentication',
  'permission',
  'export',
]);

const CATEGORY_RULES: ReadonlyArray<readonly [Category, ReadonlySet<string>]> = [
  [
    'authentication',
    words(
      'auth authentication authn login logon logout logoff signin signout session sessions password ' +
        'passwords passwd passwordless mfa 2fa otp totp sso saml oidc oauth token tokens apikey ' +
        'credential credentials factor webauthn passkey',
    ),
  ],
  [
    'permission',
    words(
      'role roles permission permissions perm perms access acl acls privilege privileges policy policies grant',
    ),
  ],
  ['export', words('export exported download downloaded')],
  ['user', words('user users member members account accounts invite invitation signup profile')],
  ['group', words('group groups team teams')],
  [
    'organization',
    words('org organization organisation workspace workspaces tenant tenants company'),
  ],
  [
    'resource',
    words(
      'resource resources datasource datasources connection connections database db integration source',
    ),
  ],
  ['workflow', words('workflow workflows trigger triggers job jobs schedule pipeline automation')],
  ['query', words('query queries sql')],
  ['page', words('page pages')],
  ['app', words('app apps application applications module modules')],
  [
    'settings',
    words(
      'settings setting config configuration env variable variables var vars preference preferences feature flag flags',
    ),
  ],
  [
    'deployment',
    words('deploy deployed deployment deployments release released publish published model models'),
  ],
];

/**
 * Lower-case words of an action: split on anything not a letter or digit and on
 * camelCase boundaries, then join the common two-word verbs (`sign up` → `signup`).
 */
export function actionWords(action: string): string[] {
  const raw = action
    .slice(0, 256)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const w = raw[i]!;
    const next = raw[i + 1];
    if (
      (w === 'sign' || w === 'log') &&
      (next === 'in' || next === 'up' || next === 'out' || next === 'on')
    ) {
      out.push(
        w === 'sign' && next === 'in'
          ? 'signin'
          : w === 'log' && next === 'in'
            ? 'login'
            : w + next,
      );
      i++;
    } else if (w === 'api' && next === 'key') {
      out.push('apikey');
      i++;
    } else {
      out.push(w);
    }
  }
  return out;
}

// Bounded memos: the set of distinct actions is small in practice, but input is untrusted.
const CACHE_MAX = 4096;
const failureCache = new Map<string, boolean>();

/** True when the action's name says it failed or was refused (`auth.login_failure`, `ACCESS_DENIED`). */
export function actionImpliesFailure(action: string): boolean {
  const hit = failureCache.get(action);
  if (hit !== undefined) return hit;
  const result = actionWords(action).some((w) => FAILURE.has(w));
  if (action.length <= 128) {
    if (failureCache.size >= CACHE_MAX) failureCache.clear();
    failureCache.set(action, result);
  }
  return result;
}

function classifyByWords(action: string): ActionClass {
  const ws = actionWords(action);
  const has = (set: ReadonlySet<string>): boolean => ws.some((w) => set.has(w));

  let category: Category = 'other';
  const overriding = CATEGORY_RULES.find(
    ([name, set]) => OVERRIDING_CATEGORIES.has(name) && has(set),
  );
  if (overriding !== undefined) {
    category = overriding[0];
  } else {
    outer: for (const w of ws) {
      for (const [name, set] of CATEGORY_RULES) {
        if (set.has(w)) {
          category = name;
          break outer;
        }
      }
    }
  }

  const destructive = has(DESTRUCTIVE);
  const failure = has(FAILURE);
  const change = has(CHANGE_VERBS);
  const warnVerb = has(WARN_VERBS);
  let severity: Severity;
  if (
    destructive ||
    has(PRIVILEGE_VERBS) ||
    has(REFUSAL) ||
    (failure && has(AUTH_NOUNS)) ||
    (change && has(SECURITY_NOUNS))
  ) {
    severity = 'critical';
  } else if (change || warnVerb) {
    severity = 'warn';
  } else {
    severity = 'info';
  }

  const known =
    category !== 'other' ||
    destructive ||
    failure ||
    change ||
    warnVerb ||
    has(INFO_WORDS) ||
    has(PRIVILEGE_VERBS);
  return { category, severity, known };
}

/**
 * product → action → class. Nested rather than keyed by `product + action`: building
 * that key concatenates and hashes a new string on every call, which the profile of
 * the event path showed; the action string alone usually has its hash already.
 */
const cache = new Map<string, Map<string, ActionClass>>();
let cached = 0;

/**
 * Category and severity of an action. For `retool` and `tooljet` the tables decide
 * (`known: true`); a table miss falls back to the word heuristic with `known: false`
 * so the pipeline can count it. For other products the words decide, and `known` says
 * whether any word was recognised; an action with no recognised word is `info`/`other`.
 */
export function classifyAction(product: string, action: string): ActionClass {
  let byAction = cache.get(product);
  const hit = byAction?.get(action);
  if (hit !== undefined) return { ...hit };

  const table = TABLES.get(product.toLowerCase());
  let result: ActionClass;
  if (table !== undefined) {
    const info = table.get(action.toUpperCase());
    result =
      info !== undefined
        ? { category: info.category, severity: info.severity, known: true }
        : { ...classifyByWords(action), known: false };
  } else {
    result = classifyByWords(action);
  }

  if (action.length <= 128) {
    if (cached >= CACHE_MAX) {
      cache.clear();
      cached = 0;
      byAction = undefined;
    }
    if (byAction === undefined) cache.set(product, (byAction = new Map<string, ActionClass>()));
    byAction.set(action, result);
    cached++;
  }
  return { ...result };
}
