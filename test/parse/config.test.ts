import { describe, expect, it } from 'vitest';
import {
  customProfileSchema,
  matchConditionSchema,
  pathSchema,
  profilesSchema,
} from '../../src/parse/config.js';

const valid = {
  product: 'billing',
  match: {
    all: [
      { field: 'kind', equals: 'audit' },
      {
        any: [
          { field: 'v', in: [1, 2] },
          { field: 'x', exists: true },
        ],
      },
    ],
  },
  fields: { action: 'event.name', actor_email: 'user.email', timestamp: 'at', severity: 'level' },
  envelope: 'payload',
};

function messages(r: {
  success: boolean;
  error?: { issues: { message: string; path: PropertyKey[] }[] };
}) {
  return (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('customProfileSchema', () => {
  it('accepts a full profile', () => {
    expect(customProfileSchema.parse(valid)).toEqual(valid);
  });

  it('requires product, match and fields.action', () => {
    expect(
      customProfileSchema.safeParse({ match: valid.match, fields: valid.fields }).success,
    ).toBe(false);
    expect(customProfileSchema.safeParse({ product: 'p', fields: valid.fields }).success).toBe(
      false,
    );
    const r = customProfileSchema.safeParse({ product: 'p', match: valid.match, fields: {} });
    expect(messages(r)).toMatch(/fields\.action/);
  });

  it('rejects unknown keys (typos) in the profile and in fields', () => {
    expect(customProfileSchema.safeParse({ ...valid, envelop: 'x' }).success).toBe(false);
    const r = customProfileSchema.safeParse({ ...valid, fields: { action: 'a', actor_mail: 'b' } });
    expect(messages(r)).toMatch(/actor_mail/);
  });

  it('restricts product to a path-safe identifier', () => {
    for (const product of ['../etc', 'a/b', '', ' x', 'x'.repeat(65), '.hidden']) {
      expect(customProfileSchema.safeParse({ ...valid, product }).success).toBe(false);
    }
    expect(customProfileSchema.safeParse({ ...valid, product: 'My_App-2.0' }).success).toBe(true);
  });
});

describe('pathSchema', () => {
  it('accepts dotted paths and rejects empty segments', () => {
    for (const p of ['a', 'metadata.user.email', 'events.0.type', 'odd key.x'])
      expect(pathSchema.safeParse(p).success).toBe(true);
    for (const p of ['', '.a', 'a.', 'a..b', 'x'.repeat(600)])
      expect(pathSchema.safeParse(p).success).toBe(false);
  });
});

describe('matchConditionSchema', () => {
  it('accepts every form', () => {
    for (const c of [
      { field: 'a', equals: 'x' },
      { field: 'a', equals: 3 },
      { field: 'a', equals: false },
      { field: 'a', in: ['x', 1, true] },
      { field: 'a', prefix: 'aud' },
      { field: 'a', exists: false },
      { field: 'a', prefix: 'x', exists: true },
      { any: [{ all: [{ field: 'a', exists: true }] }] },
    ]) {
      expect(matchConditionSchema.safeParse(c).success, JSON.stringify(c)).toBe(true);
    }
  });

  it('rejects conditions a person could not have meant, with a message', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ field: 'a' }, /at least one test/],
      [{}, /exactly one of/],
      [{ field: 'a', all: [{ field: 'b', exists: true }] }, /exactly one of/],
      [{ all: [] }, /at least one condition/],
      [{ all: [{ field: 'b', exists: true }], equals: 1 }, /belong to a `field` condition/],
      [{ field: 'a', in: [] }, /at least one value/],
      [{ field: 'a', equals: { x: 1 } }, /./],
      [{ field: 'a', eq: 1 }, /./],
      [{ any: [{ field: 'a' }] }, /at least one test/],
      ['field=a', /./],
    ];
    for (const [c, re] of cases) {
      const r = matchConditionSchema.safeParse(c);
      expect(r.success, JSON.stringify(c)).toBe(false);
      expect(messages(r)).toMatch(re);
    }
  });
});

describe('profilesSchema', () => {
  it('maps names to profiles', () => {
    expect(profilesSchema.parse({ billing: valid, 'ops-2': valid })).toHaveProperty('ops-2');
  });

  it('rejects built-in and malformed names', () => {
    for (const name of ['auto', 'retool', 'tooljet', 'generic']) {
      expect(messages(profilesSchema.safeParse({ [name]: valid }))).toMatch(
        /built-in profile name/,
      );
    }
    for (const name of ['Billing', 'has space', '', '-x']) {
      expect(profilesSchema.safeParse({ [name]: valid }).success).toBe(false);
    }
  });
});
