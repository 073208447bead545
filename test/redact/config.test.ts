import { describe, expect, it } from 'vitest';
import { defaultRedactionConfig, redactionConfigSchema } from '../../src/redact/config.js';

function issues(input: unknown): { path: string; message: string }[] {
  const r = redactionConfigSchema.safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('redaction config defaults', () => {
  it('are the strongest sensible protection', () => {
    const c = defaultRedactionConfig();
    expect(c.hide_all_headers).toBe(true);
    expect(c.always_secret_keys).toEqual({ enabled: true, extra: [], except: [] });
    const { custom, email, ip, ...switches } = c.detectors;
    expect(Object.values(switches).every((v) => v === true)).toBe(true);
    expect(Object.keys(switches).sort()).toEqual(
      [
        'aws',
        'basic_auth',
        'bearer',
        'card',
        'jwt',
        'private_key',
        'ssn',
        'url_credentials',
        'vendor_tokens',
      ].sort(),
    );
    expect(custom).toEqual([]);
    expect(email).toBe('auto');
    expect(ip).toBe('keep');
    expect(c.sql_literals.enabled).toBe(false);
    expect(c.json_in_strings).toEqual({ enabled: true, max_depth: 3 });
    expect(c.hash).toEqual({ key_id: 'v1', paths: [] });
    expect(c.limits.max_string_length).toBe(131072);
  });

  it('accepts booleans as shorthand', () => {
    const c = redactionConfigSchema.parse({
      always_secret_keys: false,
      sql_literals: true,
      json_in_strings: false,
      detectors: { email: false, ip: true },
    });
    expect(c.always_secret_keys.enabled).toBe(false);
    expect(c.sql_literals.enabled).toBe(true);
    expect(c.json_in_strings.enabled).toBe(false);
    expect(c.detectors.email).toBe('keep');
    expect(c.detectors.ip).toBe('truncate');
  });

  it('accepts the example from DESIGN.md', () => {
    expect(
      issues({
        hide_all_headers: true,
        hide_query_parameters: ['resetPassword*'],
        drop: ['detail.geoLocation'],
        mask: ['detail.**.password'],
        hash: { key: 'k'.repeat(32), key_id: 'v1', paths: ['actor.email'] },
        partial: [{ path: 'detail.metadata.**.phone', keep_last: 4 }],
        detectors: { custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] },
      }),
    ).toEqual([]);
  });
});

describe('redaction config errors', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['unknown top-level key', { hide_headers: true }, '', /hide_headers/],
    ['unknown detector', { detectors: { iban: true } }, 'detectors', /iban/],
    [
      'bad custom regex',
      { detectors: { custom: [{ name: 'x', pattern: '(a' }] } },
      'detectors.custom.0.pattern',
      /invalid regular expression/,
    ],
    [
      'look-ahead is not RE2',
      { detectors: { custom: [{ name: 'x', pattern: 'a(?=b)' }] } },
      'detectors.custom.0.pattern',
      /RE2 syntax/,
    ],
    [
      'pattern matching the empty string',
      { detectors: { custom: [{ name: 'x', pattern: 'a*' }] } },
      'detectors.custom.0.pattern',
      /empty string/,
    ],
    [
      'replacement the pattern matches again',
      { detectors: { custom: [{ name: 'x', pattern: 'secret\\w*', replace: 'secret-x' }] } },
      'detectors.custom.0.replace',
      /twice/,
    ],
    [
      'bad custom name',
      { detectors: { custom: [{ name: 'has space', pattern: 'x' }] } },
      'detectors.custom.0.name',
      /letters/,
    ],
    [
      'duplicate custom names',
      {
        detectors: {
          custom: [
            { name: 'x', pattern: 'a' },
            { name: 'x', pattern: 'b' },
          ],
        },
      },
      'detectors.custom.1.name',
      /duplicate/,
    ],
    [
      'hash paths without a key',
      { hash: { paths: ['actor.email'] } },
      'hash.key',
      /needs hash.key/,
    ],
    ['short hash key', { hash: { key: 'short' } }, 'hash.key', /16 characters/],
    ['bad key id', { hash: { key: 'k'.repeat(20), key_id: 'v 1' } }, 'hash.key_id', /letters/],
    [
      'email hash without key',
      { detectors: { email: 'hash' } },
      'detectors.email',
      /needs hash.key/,
    ],
    ['ip hash without key', { detectors: { ip: 'hash' } }, 'detectors.ip', /needs hash.key/],
    ['bad ip policy', { detectors: { ip: 'anonymise' } }, 'detectors.ip', /./],
    [
      'path outside the redactable fields',
      { mask: ['source.host'] },
      'mask.0',
      /must start at one of/,
    ],
    ['array index in a drop path', { drop: ['detail.tags.1'] }, 'drop.0', /array index/],
    ['empty path segment', { drop: ['detail..x'] }, 'drop.0', /empty segment/],
    ['whole top-level object', { drop: ['detail'] }, 'drop.0', /whole top-level object/],
    ['match-everything path', { mask: ['**'] }, 'mask.0', /matches everything/],
    [
      'partial keep_last too large',
      { partial: [{ path: 'actor.email', keep_last: 40 }] },
      'partial.0.keep_last',
      /./,
    ],
    ['json depth zero', { json_in_strings: { max_depth: 0 } }, 'json_in_strings.max_depth', /./],
    ['tiny string limit', { limits: { max_string_length: 10 } }, 'limits.max_string_length', /./],
  ];

  it.each(cases)('%s', (_name, input, path, message) => {
    const found = issues(input);
    expect(found.length).toBeGreaterThan(0);
    const hit = found.find((i) => i.path === path);
    expect(hit, JSON.stringify(found)).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('never echoes the hash key in an error', () => {
    const key = 'sup3r-s3cret-k3y-that-is-long';
    const r = redactionConfigSchema.safeParse({ hash: { key, key_id: 'bad id' } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error)).not.toContain(key);
  });
});
