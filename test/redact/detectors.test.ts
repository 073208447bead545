import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RE2JS } from 're2js';
import {
  applySpans,
  cardNumberValue,
  cardSchemeMatches,
  createQuickClean,
  createTextScanner,
  isCardNumber,
  luhnValid,
  maskCard,
  truncateIp,
  type DetectorOptions,
  type Span,
} from '../../src/redact/detectors.js';
import { createHasher } from '../../src/redact/hash.js';
import { KEY_SECRET, KEY_URL_SECRET, createKeyClassifier } from '../../src/redact/keys.js';

const classify = createKeyClassifier({
  secretKeys: true,
  extraSecret: [],
  exceptSecret: [],
  sqlKeys: [],
});
const hasher = createHasher('detector-test-key-0123456789', 'v1');

function options(over: Partial<DetectorOptions> = {}): DetectorOptions {
  return {
    card: true,
    ssn: true,
    jwt: true,
    bearer: true,
    basic_auth: true,
    aws: true,
    vendor_tokens: true,
    private_key: true,
    url_credentials: true,
    secret_key_text: true,
    email: 'mask',
    ip: 'keep',
    hasher,
    isSecretName: (n) => (classify(n) & KEY_SECRET) !== 0,
    isUrlSecretName: (n) => (classify(n) & KEY_URL_SECRET) !== 0,
    custom: [],
    ...over,
  };
}

/** Scan and rewrite `s`; returns the text and the rules that fired. */
function run(s: string, over: Partial<DetectorOptions> = {}): { text: string; rules: string[] } {
  const scan = createTextScanner(options(over));
  const spans: Span[] = [];
  scan(s, spans);
  const rules: string[] = [];
  const text = applySpans(s, spans, { add: (r) => rules.push(r) });
  return { text, rules };
}

const redact = (s: string, over: Partial<DetectorOptions> = {}): string => run(s, over).text;

// Synthetic tokens with the documented shapes (not real credentials).
const A36 = 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc_DEF-1';
const AWS_ID = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PEM =
  '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\nAbCd==\n-----END RSA PRIVATE KEY-----';

type Row = [name: string, input: string, expected: string, rule: string | null];

/** True positives and false-positive traps, default options (e-mail mask, IP keep). */
const TABLE: Row[] = [
  // cards
  ['card with spaces', '4111 1111 1111 1111', '**** **** **** 1111', 'card'],
  ['card with dashes', '5555-5555-5555-4444', '****-****-****-4444', 'card'],
  ['amex 4-6-5', '3782 822463 10005', '**** ****** *0005', 'card'],
  ['card in prose', 'card 4111111111111111 exp 12/29', 'card ************1111 exp 12/29', 'card'],
  [
    'card before a full stop',
    'paid with 4111-1111-1111-1111.',
    'paid with ****-****-****-1111.',
    'card',
  ],
  [
    'card inside longer number groups',
    'ref 12 4111 1111 1111 1111 ok',
    'ref 12 **** **** **** 1111 ok',
    'card',
  ],
  ['card between emoji', '💳4111111111111111💳', '💳************1111💳', 'card'],
  ['trap: Luhn-failing 16 digits', 'order 4111111111111112', 'order 4111111111111112', null],
  ['trap: epoch milliseconds', 'at 1706710297340', 'at 1706710297340', null],
  ['trap: epoch microseconds (Luhn-valid, no IIN)', '1706710297340001', '1706710297340001', null],
  ['trap: ISO timestamp', '2024-01-31T14:11:37.340Z', '2024-01-31T14:11:37.340Z', null],
  [
    'trap: UUID',
    '123e4567-e89b-12d3-a456-426614174000',
    '123e4567-e89b-12d3-a456-426614174000',
    null,
  ],
  [
    'trap: all-digit UUID shape',
    '41111111-1111-1111-1111-111111111111',
    '41111111-1111-1111-1111-111111111111',
    null,
  ],
  ['trap: mixed separators', '4111 1111-1111 1111', '4111 1111-1111 1111', null],
  ['trap: digits glued to letters', 'x4111111111111111y', 'x4111111111111111y', null],
  ['trap: phone number', 'call +1 555 123 4567', 'call +1 555 123 4567', null],
  // SSN
  ['ssn', '123-45-6789', '[REDACTED]', 'ssn'],
  ['ssn famous sample', 'SSN 078-05-1120.', 'SSN [REDACTED].', 'ssn'],
  ['ssn serial mixing zeros', '123-45-1203', '[REDACTED]', 'ssn'],
  ['ssn with spaces', 'ssn 123 45 6789', 'ssn [REDACTED]', 'ssn'],
  ['trap: ZIP+4', '12345-6789', '12345-6789', null],
  ['trap: ssn-like inside longer chain', '1123-45-67890', '1123-45-67890', null],
  ['trap: area 000', '000-12-3456', '000-12-3456', null],
  ['trap: area 666', '666-12-3456', '666-12-3456', null],
  ['trap: area 9xx', '900-12-3456', '900-12-3456', null],
  ['trap: group 00', '123-00-4567', '123-00-4567', null],
  ['trap: serial 0000', '123-45-0000', '123-45-0000', null],
  ['trap: date', '2024-01-31', '2024-01-31', null],
  // JWT
  ['jwt after token=', `token=${JWT}`, 'token=[REDACTED]', 'jwt'],
  ['jwt in prose', `jwt ${JWT} end`, 'jwt [REDACTED] end', 'jwt'],
  ['unsigned jwt', 'x eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. y', 'x [REDACTED] y', 'jwt'],
  ['trap: eyJ alone', 'eyJ is base64 for {"', 'eyJ is base64 for {"', null],
  ['trap: dotted words', 'a.b.c and eyJx.y', 'a.b.c and eyJx.y', null],
  // Authorization schemes
  [
    'bearer token in text',
    'sent Bearer abcdef123456 to api',
    'sent Bearer [REDACTED] to api',
    'bearer',
  ],
  ['lower-case bearer with jwt', `bearer ${JWT}`, 'bearer [REDACTED]', 'jwt'],
  ['basic credentials', 'use Basic dXNlcjpwYXNz now', 'use Basic [REDACTED] now', 'basic_auth'],
  ['trap: bearer in prose', 'Bearer authentication is used', 'Bearer authentication is used', null],
  ['trap: basic in prose', 'basic authentication', 'basic authentication', null],
  ['trap: basic without user:pass', 'Basic aGVsbG8=', 'Basic aGVsbG8=', null],
  // AWS
  ['aws access key id', `id ${AWS_ID} x`, 'id [REDACTED] x', 'aws'],
  ['aws secret access key', `secret ${AWS_SECRET}`, 'secret [REDACTED]', 'aws'],
  [
    'trap: sha1 hex (40, one case)',
    'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    'da39a3ee5e6b4b0d3255bfef95601890afd80709',
    null,
  ],
  [
    'trap: 40-char URL path',
    '/api/v1/customers/search/byEmailAddress1',
    '/api/v1/customers/search/byEmailAddress1',
    null,
  ],
  ['trap: short AKIA', 'AKIA1234', 'AKIA1234', null],
  // vendor tokens
  ['github classic token', `ghp_${A36}`, '[REDACTED]', 'vendor_tokens'],
  ['github fine-grained token', `github_pat_${A36}_${A36}`, '[REDACTED]', 'vendor_tokens'],
  ['slack bot token', 'xoxb-123456789012-abcdefghijkl', '[REDACTED]', 'vendor_tokens'],
  ['stripe live key', `key sk_live_${A36.slice(0, 24)}`, 'key [REDACTED]', 'vendor_tokens'],
  ['google api key', `AIza${A36.slice(0, 35)}`, '[REDACTED]', 'vendor_tokens'],
  ['gitlab token', `glpat-${A36.slice(0, 20)}`, '[REDACTED]', 'vendor_tokens'],
  [
    'sendgrid key',
    `SG.${A36.slice(0, 22)}.${A36}${A36.slice(0, 7)}`,
    '[REDACTED]',
    'vendor_tokens',
  ],
  [
    'slack webhook keeps host',
    'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
    'https://hooks.slack.com/[REDACTED]',
    'vendor_tokens',
  ],
  ['trap: short ghp_', 'ghp_short', 'ghp_short', null],
  ['trap: prefix glued to a word', `myghp_${A36}`, `myghp_${A36}`, null],
  // PEM
  ['pem private key', `key:\n${PEM}\nafter`, 'key:\n[REDACTED]\nafter', 'private_key'],
  [
    'unterminated pem block',
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk',
    '[REDACTED]',
    'private_key',
  ],
  [
    'trap: certificate',
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    null,
  ],
  // URLs
  [
    'url access_token',
    'https://api.x.io/v1?access_token=abc123&page=2',
    'https://api.x.io/v1?access_token=[REDACTED]&page=2',
    'url_credentials',
  ],
  [
    'url userinfo password',
    'postgres://admin:S3cret@db:5432/app',
    'postgres://admin:[REDACTED]@db:5432/app',
    'url_credentials',
  ],
  ['url userinfo short', 'https://u:p@host/', 'https://u:[REDACTED]@host/', 'url_credentials'],
  [
    'url signature parameter',
    'https://b.s3.io/o?X-Amz-Signature=abcd&X-Amz-Date=1',
    'https://b.s3.io/o?X-Amz-Signature=[REDACTED]&X-Amz-Date=1',
    'url_credentials',
  ],
  [
    'url fragment token',
    'https://x.io/cb#access_token=abc&state=1',
    'https://x.io/cb#access_token=[REDACTED]&state=1',
    'url_credentials',
  ],
  [
    'token used as url user',
    `https://${A36}@github.com/o/r`,
    'https://[REDACTED]@github.com/o/r',
    'url_credentials',
  ],
  [
    'trap: plain url',
    'https://example.com/path?page=2&sort=asc',
    'https://example.com/path?page=2&sort=asc',
    null,
  ],
  ['trap: url user name only', 'https://ana@example.com/', 'https://ana@example.com/', null],
  ['trap: sig outside a url', 'sig=abc', 'sig=abc', null],
  // key=value text
  ['password=value', 'password=hunter2 next', 'password=[REDACTED] next', 'secret_key'],
  ['truncated json', '{"password":"hunter2","q":1', '{"password":"[REDACTED]","q":1', 'secret_key'],
  ['quoted value with spaces', "db_password: 'x y z'", "db_password: '[REDACTED]'", 'secret_key'],
  [
    'raw header lines',
    'X-Api-Key: abc123\nAccept: */*',
    'X-Api-Key: [REDACTED]\nAccept: */*',
    'secret_key',
  ],
  [
    'header line keeps scheme out',
    'Authorization: Digest abc',
    'Authorization: [REDACTED]',
    'secret_key',
  ],
  ['sql comparison', "WHERE password = 'hunter2'", "WHERE password = '[REDACTED]'", 'secret_key'],
  [
    'object after a secret name',
    'credentials: {"u": "a", "p": "b"} rest',
    'credentials: [REDACTED] rest',
    'secret_key',
  ],
  ['trap: clock time', 'time 10:00:00', 'time 10:00:00', null],
  ['trap: comparison', 'a == b', 'a == b', null],
  ['trap: harmless name', 'name=ana', 'name=ana', null],
  ['trap: sql placeholder', 'WHERE token = ?', 'WHERE token = ?', null],
  // e-mail (mask keeps the domain)
  ['email', 'contact ana@example.com.', 'contact [REDACTED]@example.com.', 'email'],
  ['mailto', 'mailto:ana@example.com', 'mailto:[REDACTED]@example.com', 'email'],
  ['IDN email', 'josé@münchen.de', '[REDACTED]@münchen.de', 'email'],
  ['email between emoji', '🔑ana@example.com🔑', '🔑[REDACTED]@example.com🔑', 'email'],
  ['two emails', 'a.b@x.io,c+d@y.org', '[REDACTED]@x.io,[REDACTED]@y.org', 'email'],
  ['trap: retina file name', 'icon@2x.png', 'icon@2x.png', null],
  ['trap: package version', 'npm i pkg@1.2.3', 'npm i pkg@1.2.3', null],
  ['trap: mention', 'ping @ana please', 'ping @ana please', null],
  ['trap: no dot in domain', 'a@localhost', 'a@localhost', null],
  // IPs are kept by default
  ['ip kept by default', 'from 203.0.113.7', 'from 203.0.113.7', null],
];

describe('detectors table', () => {
  it.each(TABLE)('%s', (_name, input, expected, rule) => {
    const r = run(input);
    expect(r.text).toBe(expected);
    if (rule === null) expect(r.rules).toEqual([]);
    else expect(r.rules).toContain(rule);
    // Idempotent: the output scans clean.
    expect(run(r.text)).toEqual({ text: r.text, rules: [] });
  });

  it('has at least 40 rows', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(40);
  });
});

describe('detector switches', () => {
  const cases: [keyof DetectorOptions, string][] = [
    ['card', '4111 1111 1111 1111'],
    ['ssn', '123-45-6789'],
    ['jwt', `x ${JWT}`],
    ['bearer', 'Bearer abcdef123456'],
    ['basic_auth', 'Basic dXNlcjpwYXNz'],
    ['vendor_tokens', `ghp_${A36}`],
    ['private_key', PEM],
    ['url_credentials', 'postgres://admin:S3cret@db/app'],
    ['secret_key_text', 'password=hunter2'],
  ];
  it.each(cases)('%s can be switched off', (name, input) => {
    expect(redact(input)).not.toBe(input);
    expect(redact(input, { [name]: false })).toBe(input);
  });

  it('url_credentials does not depend on always_secret_keys', () => {
    const off = createKeyClassifier({
      secretKeys: false,
      extraSecret: [],
      exceptSecret: [],
      sqlKeys: [],
    });
    const o = {
      secret_key_text: false,
      isSecretName: (n: string) => (off(n) & KEY_SECRET) !== 0,
      isUrlSecretName: (n: string) => (off(n) & KEY_URL_SECRET) !== 0,
    };
    expect(redact('https://x.io/?access_token=abc&sig=s1&page=2', o)).toBe(
      'https://x.io/?access_token=[REDACTED]&sig=[REDACTED]&page=2',
    );
    expect(redact('password=hunter2', o)).toBe('password=hunter2');
  });

  it('aws can be switched off', () => {
    expect(redact(AWS_ID, { aws: false })).toBe(AWS_ID);
    expect(redact(AWS_SECRET, { aws: false })).toBe(AWS_SECRET);
  });

  it('email keep leaves addresses alone', () => {
    expect(redact('ana@example.com', { email: 'keep' })).toBe('ana@example.com');
  });
});

describe('email hashing', () => {
  it('hashes the whole address, case-insensitively, stable per key', () => {
    const a = redact('ana@example.com', { email: 'hash' });
    expect(a).toMatch(/^hmac:v1:[0-9a-f]{32}$/);
    expect(redact('Ana@Example.COM', { email: 'hash' })).toBe(a);
    expect(redact('bo@example.com', { email: 'hash' })).not.toBe(a);
    expect(redact(`x ${a} y`, { email: 'hash' })).toBe(`x ${a} y`);
  });

  it('a rotated key gives a different prefix and value', () => {
    const v2 = createHasher('another-key-0123456789abcdef', 'v2');
    const a = redact('ana@example.com', { email: 'hash' });
    const b = redact('ana@example.com', { email: 'hash', hasher: v2 });
    expect(b.startsWith('hmac:v2:')).toBe(true);
    expect(b.slice(8)).not.toBe(a.slice(8));
  });
});

describe('IP policy', () => {
  it('truncates IPv4 to /24 and IPv6 to /48, IPv4-mapped via its IPv4 part', () => {
    const t = { ip: 'truncate' as const };
    expect(redact('from 10.1.2.3.', t)).toBe('from 10.1.2.0.');
    expect(redact('2001:db8:85a3::8a2e:370:7334', t)).toBe('2001:db8:85a3::');
    expect(redact('2001:0db8:85a3:0000:0000:8a2e:0370:7334', t)).toBe('2001:db8:85a3::');
    expect(redact('::ffff:10.0.0.5', t)).toBe('::ffff:10.0.0.0');
    expect(redact('fe80::1', t)).toBe('fe80:0:0::');
  });

  it('leaves look-alikes alone', () => {
    const t = { ip: 'truncate' as const };
    for (const s of [
      '999.1.1.1',
      '12:30:45',
      'Chrome/120.0.0.0',
      'v1.2.3.4.5',
      '2024-01-31T14:11:37Z',
      'a::b::c',
    ]) {
      expect(redact(s, t)).toBe(s);
    }
  });

  it('truncated addresses are not counted again', () => {
    expect(run('10.1.2.0', { ip: 'truncate' }).rules).toEqual([]);
  });

  it('hash correlates an IPv4 address with its IPv4-mapped form', () => {
    const a = redact('10.0.0.5', { ip: 'hash' });
    expect(a).toMatch(/^hmac:v1:[0-9a-f]{32}$/);
    expect(redact('::ffff:10.0.0.5', { ip: 'hash' })).toBe(a);
  });

  it('truncateIp', () => {
    expect(truncateIp('203.0.113.7')).toBe('203.0.113.0');
    expect(truncateIp('2001:DB8:1:2::3')).toBe('2001:db8:1::');
  });
});

describe('custom detectors', () => {
  const custom = (pattern: string, replace: string, flags = 0): Partial<DetectorOptions> => ({
    custom: [{ rule: 'custom:emp', re: RE2JS.compile(pattern, flags), replace }],
  });

  it('replaces matches, with group references', () => {
    expect(redact('id EMP-123456 ok', custom('EMP-[0-9]{6}', '[REDACTED]'))).toBe(
      'id [REDACTED] ok',
    );
    expect(redact('id EMP-123456 ok', custom('(EMP)-[0-9]{6}', '$1-******'))).toBe(
      'id EMP-****** ok',
    );
    expect(run('EMP-123456', custom('EMP-[0-9]{6}', '[REDACTED]')).rules).toEqual(['custom:emp']);
  });

  it('keeps UTF-16 offsets right around emoji', () => {
    expect(redact('🔑 EMP-123456 🔑', custom('EMP-[0-9]{6}', '[REDACTED]'))).toBe(
      '🔑 [REDACTED] 🔑',
    );
  });

  it('never rewrites existing tokens', () => {
    const o = custom('\\[[A-Z]+\\]', '<gone>');
    expect(redact('a [REDACTED] b [SECRET]', o)).toBe('a [REDACTED] b <gone>');
  });
});

describe('cards', () => {
  it('luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('378282246310005')).toBe(true);
  });

  it('schemes by prefix and length', () => {
    expect(cardSchemeMatches('4111111111111111')).toBe(true);
    expect(cardSchemeMatches('2221000000000009')).toBe(true); // Mastercard 2-series
    expect(cardSchemeMatches('378282246310005')).toBe(true);
    expect(cardSchemeMatches('6011111111111117')).toBe(true);
    expect(cardSchemeMatches('3530111333300000')).toBe(true); // JCB
    expect(cardSchemeMatches('1706710297340001')).toBe(false);
    expect(cardSchemeMatches('411111111111111')).toBe(false); // Visa has no 15-digit form
    expect(isCardNumber('5555555555554444')).toBe(true);
  });

  it('maskCard keeps separators and the last four', () => {
    expect(maskCard('4111-1111-1111-1111')).toBe('****-****-****-1111');
  });

  it('cards stored as JSON numbers', () => {
    expect(cardNumberValue(4111111111111111)).toBe('************1111');
    expect(cardNumberValue(4111111111111112)).toBeNull();
    expect(cardNumberValue(1706710297340)).toBeNull();
    expect(cardNumberValue(5167)).toBeNull();
    expect(cardNumberValue(41.5)).toBeNull();
    // Past 2^53 the digits are already lost: a card-shaped value is masked whole.
    // (Parsed from JSON text, as the app's numbers arrive.)
    expect(cardNumberValue(JSON.parse('4111111111111111111') as number)).toBe('[REDACTED]');
    expect(cardNumberValue(JSON.parse('1234567890123456789') as number)).toBeNull();
  });
});

describe('cardNumberValue leading-digit shortcut', () => {
  /** The function before the shortcut: the reference it must match. */
  function reference(n: number): string | null {
    if (!Number.isInteger(n) || n < 1e12) return null;
    if (n <= Number.MAX_SAFE_INTEGER) {
      const d = String(n);
      return isCardNumber(d) ? maskCard(d) : null;
    }
    if (n >= 1e19) return null;
    const d = BigInt(n).toString();
    return cardSchemeMatches(d) ? MASK_TOKEN : null;
  }
  const MASK_TOKEN = '[REDACTED]';

  it('answers what the full check answers, at every magnitude and leading digit (property)', () => {
    const powers = [1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19];
    const number = fc.oneof(
      fc
        .integer({ min: 0, max: 7 })
        .chain((k) =>
          fc.double({ min: powers[k]! * 0.9, max: powers[k]! * 11, noNaN: true }).map(Math.floor),
        ),
      // Boundaries of each leading digit, ± 1 and ± an ulp.
      fc
        .tuple(
          fc.integer({ min: 0, max: 6 }),
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: -1, max: 1 }),
        )
        .map(([k, d, off]) => d * powers[k]! + off),
      fc.constantFrom(
        4111111111111111,
        5555555555554444,
        1795000000000,
        6e15,
        7e15 - 1,
        2e12 - 1,
        2e12,
      ),
      fc.double({ noNaN: false }),
    );
    fc.assert(
      fc.property(number, (n) => {
        expect(cardNumberValue(n)).toBe(reference(n));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('gates: the gated scanner reports exactly what running every detector reports', () => {
  // Fragments that each trip some detector or sit just beside one, glued with filler.
  const secret = fc.constantFrom(
    JWT,
    `eyJ${A36.slice(0, 7)}.abcd.`,
    AWS_ID,
    AWS_SECRET,
    `ASIA${'Z'.repeat(16)}`,
    `ghp_${A36}`,
    `github_pat_${'a'.repeat(22)}`,
    'xoxb-abcdefghij', // the shortest Slack token (15 characters)
    'xapp-1-abcdefghij',
    `sk_live_${'a1'.repeat(8)}`,
    `AIza${'x'.repeat(35)}`,
    `SG.${'a'.repeat(22)}.${'b'.repeat(43)}`,
    'hooks.slack.com/services/T000/B000/abcdefghijklmnop',
    `sk-${'z'.repeat(32)}`,
    '-----BEGIN PRIVATE KEY-----',
    '-----BEGIN PRIVATE KEY-----abc',
    PEM,
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '378282246310005',
    '123-45-6789',
    '123 45 6789',
    'Bearer abcdef123456',
    'bEaReR abc.def-123',
    'BASIC dXNlcjpwYXNz',
    'bAsIc dXNlcjpwYXNz',
    'ana@example.com',
    'a@b.co',
    'postgres://admin:S3cret@db/app',
    'https://x.io/?access_token=abc&sig=s1',
    'password=hunter2',
    'pin:1234',
    '"token": "abc"',
    '10.0.0.5',
    '::ffff:10.0.0.5',
    '2001:db8::1',
    'fe80:0:0:0:0:0:0:1',
    '2026-11-21T10:00:00.123Z',
    'b3a5e0c1-7d2f-4e8a-9c61-00000001e240',
    '92f59b44745344f9affacc879e847d94',
  );
  const filler = fc.string({
    unit: fc.constantFrom(
      'a',
      'Z',
      '0',
      '7',
      ' ',
      '-',
      '_',
      '.',
      ':',
      '=',
      '@',
      '/',
      '+',
      '\t',
      'é',
    ),
    maxLength: 12,
  });
  const text = fc.oneof(
    fc.array(fc.oneof(secret, filler), { maxLength: 5 }).map((xs) => xs.join('')),
    filler,
    fc.string({ maxLength: 24 }),
    // A fragment cut anywhere: just-too-short versions of every shape.
    fc.tuple(secret, fc.nat({ max: 60 })).map(([x, n]) => x.slice(0, n)),
  );
  const variants: Array<[string, Partial<DetectorOptions>]> = [
    ['defaults', {}],
    ['ip truncate, email hash', { ip: 'truncate', email: 'hash' }],
    ['ip hash, email keep', { ip: 'hash', email: 'keep' }],
    ['key=value off', { secret_key_text: false, url_credentials: false }],
    [
      'custom detector',
      {
        custom: [
          {
            rule: 'custom:emp',
            re: RE2JS.compile('EMP-[0-9]{3}'),
            replace: '[REDACTED]',
          },
        ],
      },
    ],
  ];

  it.each(variants)('%s (property)', (_name, over) => {
    const gated = createTextScanner(options(over));
    const every = createTextScanner(options(over), false);
    const clean = createQuickClean(options(over));
    fc.assert(
      fc.property(text, (s) => {
        const a: Span[] = [];
        const b: Span[] = [];
        gated(s, a);
        every(s, b);
        expect(a).toEqual(b);
        if (clean(s)) expect(b).toEqual([]);
      }),
      { numRuns: 1500 },
    );
  });

  it('covers the shortest shapes the old gates skipped', () => {
    // Found by the property above: these were skipped by length / run gates.
    expect(redact('xoxb-abcdefghij')).toBe('[REDACTED]');
    expect(redact('-----BEGIN PRIVATE KEY-----abc')).toBe('[REDACTED]');
    expect(redact('bEaReR abc.def-123')).toBe('bEaReR [REDACTED]');
  });

  it('quick-clean answers true only for short harmless text and timestamps', () => {
    const clean = createQuickClean(options());
    expect(clean('production')).toBe(true);
    expect(clean('2026-11-21T10:00:00.123Z')).toBe(true);
    expect(clean('a@b.co')).toBe(false);
    expect(clean('pin=1234')).toBe(false);
    expect(clean('123-45-6789')).toBe(false);
    expect(createQuickClean(options({ ip: 'truncate' }))('1.2.3.4')).toBe(false);
    expect(createQuickClean(options({ ip: 'keep' }))('1.2.3.4')).toBe(true);
    const withCustom = createQuickClean(
      options({ custom: [{ rule: 'custom:x', re: RE2JS.compile('x'), replace: 'y' }] }),
    );
    expect(withCustom('x')).toBe(false);
  });
});

describe('applySpans', () => {
  const rules: string[] = [];
  const tally = { add: (r: string) => rules.push(r) };

  it('outer span wins over a span inside it', () => {
    const s = 'abcdefghij';
    const out = applySpans(
      s,
      [
        { start: 2, end: 8, text: 'X', rule: 'outer' },
        { start: 3, end: 5, text: 'Y', rule: 'inner' },
      ],
      tally,
    );
    expect(out).toBe('abXij');
  });

  it('partly overlapping spans merge into one mask', () => {
    rules.length = 0;
    const out = applySpans(
      'abcdefghij',
      [
        { start: 1, end: 4, text: 'X', rule: 'a' },
        { start: 3, end: 7, text: 'Y', rule: 'b' },
      ],
      tally,
    );
    expect(out).toBe('a[REDACTED]hij');
    expect(rules.sort()).toEqual(['a', 'b']);
  });

  it('never rewrites a token but masks what is glued to it', () => {
    const s = 'password=[REDACTED]realsecret';
    expect(redact(s)).toBe('password=[REDACTED][REDACTED]');
    expect(redact('password=[REDACTED]')).toBe('password=[REDACTED]');
  });
});

describe('hostile input stays linear and ends', () => {
  // No timing assertions (benchmarks measure speed); a quadratic scanner would
  // blow the test timeout on these 64 KiB strings (billions of steps).
  const K = 64 * 1024;
  const fill = (unit: string): string => unit.repeat(Math.ceil(K / unit.length)).slice(0, K);
  const hostile = [
    'eyJ',
    'eyJa.',
    'a@',
    'a@b.',
    '4111 ',
    '4-',
    '123-45-',
    'token=',
    'password:',
    '"password":"',
    ':',
    '://',
    'https://a:b@',
    '-----BEGIN PRIVATE KEY-----',
    'Bearer ',
    'bearer bearer',
    'ghp_',
    'github_pat_',
    'sk-',
    'AKIA',
    'a/b+',
    '1.1.1.',
    'f:',
    '::ffff:',
    '=',
  ];
  it.each(hostile)('%j repeated', (unit) => {
    const s = fill(unit);
    for (const ip of ['keep', 'truncate'] as const) {
      const out = run(s, { ip });
      expect(typeof out.text).toBe('string');
    }
  });
});
