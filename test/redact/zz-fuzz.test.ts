import { it, expect } from 'vitest';
import fc from 'fast-check';
import { compileRedaction } from '../../src/redact/redactor.js';
import { redactionConfigSchema } from '../../src/redact/config.js';
import { event, HMAC_KEY } from './fixtures.js';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc_DEF-1';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----';
const SECRETS: [string, string][] = [
  ['4111 1111 1111 1111', '4111 1111 1111'], ['4111111111111111', '41111111111'], ['123-45-6789', '123-45-6789'], [JWT, 'eyJzdWIiOiIxMjMifQ'],
  ['AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'], ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'K7MDENG'], ['ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8', 'A1b2C3d4E5f6G7h8I9j0'],
  ['postgres://admin:S3cretPw@db/app', 'S3cretPw'], ['ana.secret@example.com', 'ana.secret'], ['Bearer abcdef123456', 'abcdef123456'],
  [PEM, 'MIIEowIBAAKCAQEA7bq'], ['password=hunter2x', 'hunter2x'], ['https://x.io/?access_token=tok998877', 'tok998877'], ['Basic dXNlcjpwYXNz', 'dXNlcjpwYXNz'],
];
const sep = fc.constantFrom(' ', ', ', '\n', '"', "'", '(', ')', '🔑', ' é ', '\t', ';', '[', ']', '{', '}', '<', '>');
const noise = fc.string({ maxLength: 12 }).map(s => ` ${s} `);
const text = fc.array(fc.oneof(fc.constantFrom(...SECRETS.map(s => s[0])), sep, noise), { maxLength: 8 }).map(a => a.join(' '));
const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('password', 'headers', 'email', 'query', 'parameters', 'value', 'key', 'body', 'name'), text);
const leaf = fc.oneof(text, fc.string({ maxLength: 20 }), fc.integer(), fc.constant(4111111111111111), fc.boolean(), fc.constant(null), text.map(t => JSON.stringify({ note: t, password: 'x' })));
const detail = fc.object({ key, values: [leaf], maxDepth: 4, maxKeys: 6 });
for (const cfg of [{}, { hash: { key: HMAC_KEY }, detectors: { ip: 'truncate' as const }, sql_literals: true, hide_all_headers: false }]) {
  it('fuzz ' + JSON.stringify(cfg).slice(0, 40), () => {
    const p = compileRedaction(redactionConfigSchema.parse(cfg));
    fc.assert(fc.property(detail, (d) => {
      const once = p.apply(event(structuredClone(d)));
      const t = JSON.stringify(once);
      for (const [, raw] of SECRETS) expect(t).not.toContain(raw);
      expect(p.apply(structuredClone(once))).toEqual(once);
    }), { numRuns: 25000 });
  });
}
