import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CATEGORIES,
  RETOOL_ACTIONS,
  TOOLJET_ACTIONS,
  actionImpliesFailure,
  actionWords,
  classifyAction,
} from '../../src/event/actions.js';
import { SEVERITIES } from '../../src/event/types.js';

// The expected classification of every action the brief and the research name,
// written out by hand from the severity model in DESIGN.md.
const RETOOL_EXPECTED: Record<string, [string, string]> = {
  QUERY_RUN: ['query', 'info'],
  QUERY_PREVIEW: ['query', 'info'],
  PLAYGROUND_QUERY_RUN: ['query', 'info'],
  PAGE_VIEW: ['page', 'info'],
  LOGIN: ['authentication', 'info'],
  LOGOUT: ['authentication', 'info'],
  SIGN_UP: ['user', 'warn'],
  REDEEM_INVITE: ['user', 'warn'],
  INVITE_USER: ['user', 'warn'],
  RE_INVITE_USER: ['user', 'warn'],
  DISABLE_TWO_FACTOR_AUTH: ['authentication', 'critical'],
  REQUEST_PASSWORD_RESET_LINK: ['authentication', 'warn'],
  REQUEST_PASSWORDLESS_LOGIN: ['authentication', 'info'],
  CONFIRM_PASSWORD_RESET_LINK: ['authentication', 'critical'],
  CREATE_GROUP: ['group', 'critical'],
  UPDATE_GROUP: ['group', 'critical'],
  DELETE_GROUP: ['group', 'critical'],
  ADD_USERS_TO_GROUP: ['group', 'critical'],
  REMOVE_USERS_FROM_GROUP: ['group', 'critical'],
  DISABLE_USER: ['user', 'critical'],
  ENABLE_USER: ['user', 'warn'],
  UPDATE_ORGANIZATION: ['organization', 'warn'],
  CREATE_RESOURCE: ['resource', 'warn'],
  UPDATE_RESOURCE: ['resource', 'warn'],
  DELETE_RESOURCE: ['resource', 'critical'],
  PAGE_EXPORT: ['export', 'warn'],
  CREATE_WORKFLOW: ['workflow', 'warn'],
  DELETE_WORKFLOW: ['workflow', 'critical'],
  RELEASE_WORKFLOW: ['workflow', 'warn'],
  VIEW_WORKFLOW: ['workflow', 'info'],
  RUN_WORKFLOW: ['workflow', 'info'],
  RUN_WORKFLOW_BLOCK: ['workflow', 'info'],
  ENABLE_WORKFLOW: ['workflow', 'warn'],
  DISABLE_WORKFLOW: ['workflow', 'critical'],
  ENABLE_TRIGGER: ['workflow', 'warn'],
  DISABLE_TRIGGER: ['workflow', 'critical'],
  CONFIG_VAR_CREATE: ['settings', 'warn'],
  CONFIG_VAR_UPDATE: ['settings', 'warn'],
  CONFIG_VAR_DELETE: ['settings', 'critical'],
  ACCESS_TOKEN_CREATED: ['authentication', 'critical'],
  ACCESS_TOKEN_REVOKED: ['authentication', 'critical'],
  USER_NAME_CHANGE: ['user', 'warn'],
};

const TOOLJET_EXPECTED: Record<string, [string, string]> = {
  USER_LOGIN: ['authentication', 'info'],
  USER_SIGNUP: ['user', 'warn'],
  USER_INVITE: ['user', 'warn'],
  USER_INVITE_REDEEM: ['user', 'warn'],
  APP_CREATE: ['app', 'warn'],
  APP_UPDATE: ['app', 'warn'],
  APP_VIEW: ['app', 'info'],
  APP_DELETE: ['app', 'critical'],
  APP_IMPORT: ['app', 'warn'],
  APP_EXPORT: ['export', 'warn'],
  APP_CLONE: ['app', 'warn'],
  DATA_QUERY_RUN: ['query', 'info'],
  GROUP_PERMISSION_CREATE: ['group', 'critical'],
  GROUP_PERMISSION_UPDATE: ['group', 'critical'],
  GROUP_PERMISSION_DELETE: ['group', 'critical'],
  APP_GROUP_PERMISSION_UPDATE: ['permission', 'critical'],
};

describe('retool table', () => {
  it.each(Object.entries(RETOOL_EXPECTED))('%s', (action, [category, severity]) => {
    expect(classifyAction('retool', action)).toEqual({ category, severity, known: true });
  });

  it('holds exactly the listed actions', () => {
    expect(Object.keys(RETOOL_ACTIONS).sort()).toEqual(Object.keys(RETOOL_EXPECTED).sort());
  });

  it('is case-insensitive on the action and the product', () => {
    expect(classifyAction('Retool', 'query_run')).toEqual({
      category: 'query',
      severity: 'info',
      known: true,
    });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(RETOOL_ACTIONS)).toBe(true);
    expect(Object.isFrozen(RETOOL_ACTIONS.QUERY_RUN)).toBe(true);
  });
});

describe('tooljet table', () => {
  it.each(Object.entries(TOOLJET_EXPECTED))('%s', (action, [category, severity]) => {
    expect(classifyAction('tooljet', action)).toEqual({ category, severity, known: true });
  });

  it('holds every documented action (plus ones seen in source)', () => {
    for (const action of Object.keys(TOOLJET_EXPECTED))
      expect(Object.hasOwn(TOOLJET_ACTIONS, action)).toBe(true);
    expect(classifyAction('tooljet', 'DATA_SOURCE_DELETE')).toMatchObject({
      severity: 'critical',
      known: true,
    });
    expect(classifyAction('tooljet', 'GIT_SYNC_DISABLE')).toMatchObject({
      severity: 'critical',
      known: true,
    });
  });

  it('does not answer for the other product', () => {
    expect(classifyAction('tooljet', 'QUERY_RUN').known).toBe(false);
    expect(classifyAction('retool', 'APP_VIEW').known).toBe(false);
  });
});

describe('table misses', () => {
  it('are known: false, and still classified by their words', () => {
    expect(classifyAction('retool', 'DELETE_APP')).toEqual({
      category: 'app',
      severity: 'critical',
      known: false,
    });
    expect(classifyAction('retool', 'CREATE_APP')).toEqual({
      category: 'app',
      severity: 'warn',
      known: false,
    });
    expect(classifyAction('tooljet', 'SOMETHING_NEW')).toEqual({
      category: 'other',
      severity: 'info',
      known: false,
    });
  });

  it('never reach Object.prototype', () => {
    for (const a of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(classifyAction('retool', a).known).toBe(false);
      expect(classifyAction('tooljet', a).known).toBe(false);
    }
  });
});

describe('generic actions', () => {
  it.each([
    ['model.deploy', 'deployment', 'warn'],
    ['model.release', 'deployment', 'warn'],
    ['user.role_change', 'permission', 'critical'],
    ['auth.login_failure', 'authentication', 'critical'],
    ['auth.login', 'authentication', 'info'],
    ['auth.logout', 'authentication', 'info'],
    ['user.delete', 'user', 'critical'],
    ['user.create', 'user', 'warn'],
    ['user.invite', 'user', 'warn'],
    ['user.update', 'user', 'warn'],
    ['user.password_change', 'authentication', 'critical'],
    ['user.mfa_disabled', 'authentication', 'critical'],
    ['settings.update', 'settings', 'warn'],
    ['token.revoke', 'authentication', 'critical'],
    ['api_key.create', 'authentication', 'critical'],
    ['permission.grant', 'permission', 'critical'],
    ['access.denied', 'permission', 'critical'],
    ['document.view', 'other', 'info'],
    ['query.run', 'query', 'info'],
    ['app.export', 'export', 'warn'],
    ['group.member_remove', 'group', 'critical'],
    ['billing.plan_revert', 'other', 'critical'],
    ['userDeleted', 'user', 'critical'],
    ['SignIn', 'authentication', 'info'],
    ['sign-up', 'user', 'warn'],
  ])('%s → %s / %s', (action, category, severity) => {
    expect(classifyAction('generic', action)).toEqual({ category, severity, known: true });
  });

  it('unknown words are info / other / known: false', () => {
    expect(classifyAction('generic', 'frobnicate.zorp')).toEqual({
      category: 'other',
      severity: 'info',
      known: false,
    });
    expect(classifyAction('myapp', '')).toEqual({
      category: 'other',
      severity: 'info',
      known: false,
    });
  });

  it('a custom product named retool uses the retool table', () => {
    expect(classifyAction('retool', 'DISABLE_USER').known).toBe(true);
    expect(classifyAction('billing', 'DISABLE_USER')).toEqual({
      category: 'user',
      severity: 'critical',
      known: true,
    });
  });
});

describe('classifyAction robustness', () => {
  it('returns fresh objects: callers cannot poison the memo', () => {
    const first = classifyAction('retool', 'QUERY_RUN');
    first.severity = 'critical';
    expect(classifyAction('retool', 'QUERY_RUN').severity).toBe('info');
  });

  it('copes with huge and hostile strings', () => {
    const huge = 'DELETE_' + 'x'.repeat(1_000_000);
    expect(classifyAction('retool', huge)).toMatchObject({ severity: 'critical', known: false });
    expect(classifyAction('generic', '\u0000\uFFFD\uD800')).toMatchObject({
      severity: 'info',
      known: false,
    });
  });

  it('always answers with a category and severity from the vocabulary', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('retool', 'tooljet', 'generic', 'x'),
        fc.string(),
        (product, action) => {
          const r = classifyAction(product, action);
          expect(CATEGORIES).toContain(r.category);
          expect(SEVERITIES).toContain(r.severity);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('actionWords / actionImpliesFailure', () => {
  it('splits on separators and camelCase, joins two-word verbs', () => {
    expect(actionWords('auth.loginFailure')).toEqual(['auth', 'login', 'failure']);
    expect(actionWords('USER_SIGN_UP')).toEqual(['user', 'signup']);
    expect(actionWords('log-in')).toEqual(['login']);
    expect(actionWords('API_KEY_CREATED')).toEqual(['apikey', 'created']);
  });

  it('recognises failure words only as words', () => {
    expect(actionImpliesFailure('auth.login_failure')).toBe(true);
    expect(actionImpliesFailure('ACCESS_DENIED')).toBe(true);
    expect(actionImpliesFailure('LOGIN_FAILED')).toBe(true);
    expect(actionImpliesFailure('QUERY_RUN')).toBe(false);
    expect(actionImpliesFailure('failover.start')).toBe(false);
  });
});

describe('classifyAction memo', () => {
  const product = fc.constantFrom('retool', 'tooljet', 'generic', 'Retool', 'billing', '');
  const action = fc.oneof(
    fc.constantFrom(...Object.keys(RETOOL_ACTIONS), ...Object.keys(TOOLJET_ACTIONS)),
    fc.constantFrom('auth.login_failure', 'user.delete', 'model.deploy', 'QUERY_RUN', 'x'),
    fc.string({ maxLength: 20 }),
  );

  it('answers per (product, action), the same whether cached, evicted or fresh (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(product, action), { minLength: 1, maxLength: 30 }), (pairs) => {
        const first = pairs.map(([p, a]) => classifyAction(p, a));
        // Fill the memo past its bound so it is cleared at least once in between.
        for (let i = 0; i < 4100; i++) classifyAction('filler', `F_${i}`);
        const again = pairs.map(([p, a]) => classifyAction(p, a));
        const reversed = pairs
          .slice()
          .reverse()
          .map(([p, a]) => classifyAction(p, a))
          .reverse();
        expect(again).toEqual(first);
        expect(reversed).toEqual(first);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps products apart for the same action text', () => {
    for (let i = 0; i < 3; i++) {
      expect(classifyAction('retool', 'APP_VIEW').known).toBe(false);
      expect(classifyAction('tooljet', 'APP_VIEW').known).toBe(true);
    }
  });

  it('hands out copies: a caller changing one does not change the next answer', () => {
    const a = classifyAction('retool', 'DELETE_USER');
    a.severity = 'info';
    expect(classifyAction('retool', 'DELETE_USER').severity).toBe('critical');
  });
});
