import { describe, expect, it } from 'vitest';
import {
  KEY_HEADERS,
  KEY_PARAMS,
  KEY_SECRET,
  KEY_SQL,
  KEY_URL_SECRET,
  createKeyClassifier,
  normaliseKey,
} from '../../src/redact/keys.js';

const base = { secretKeys: true, extraSecret: [], exceptSecret: [], sqlKeys: [] };

describe('key classification', () => {
  const classify = createKeyClassifier(base);
  it.each([
    // credential names from Retool resources and user objects, any casing and separator
    ['authorization', KEY_SECRET | KEY_URL_SECRET],
    ['Proxy-Authorization', KEY_SECRET | KEY_URL_SECRET],
    ['x-API-key', KEY_SECRET | KEY_URL_SECRET],
    ['COOKIE', KEY_SECRET | KEY_URL_SECRET | KEY_HEADERS],
    ['set-cookie', KEY_SECRET | KEY_URL_SECRET | KEY_HEADERS],
    ['databasePassword', KEY_SECRET | KEY_URL_SECRET],
    ['amazon_secret_access_key', KEY_SECRET | KEY_URL_SECRET],
    ['amazon_access_key_id', KEY_SECRET | KEY_URL_SECRET],
    ['clientSecret', KEY_SECRET | KEY_URL_SECRET],
    ['private_key', KEY_SECRET | KEY_URL_SECRET],
    ['passwd', KEY_SECRET | KEY_URL_SECRET],
    ['resetPasswordToken', KEY_SECRET | KEY_URL_SECRET],
    ['refresh_token', KEY_SECRET | KEY_URL_SECRET],
    ['connectionString', KEY_SECRET | KEY_URL_SECRET],
    ['ssn', KEY_SECRET | KEY_URL_SECRET],
    // containers
    ['headers', KEY_HEADERS],
    ['requestHeaders', KEY_HEADERS],
    ['response_headers', KEY_HEADERS],
    ['cookies', KEY_SECRET | KEY_URL_SECRET | KEY_HEADERS],
    ['parameters', KEY_PARAMS],
    ['queryParams', KEY_PARAMS],
    ['query', KEY_SQL],
    ['queryText', KEY_SQL],
    ['sql', KEY_SQL],
    // URL-only
    ['sig', KEY_URL_SECRET],
    ['X-Amz-Signature', KEY_URL_SECRET],
    // harmless
    ['email', 0],
    ['userId', 0],
    ['firstName', 0],
    ['host', 0],
    ['header', 0],
    ['author', 0],
  ])('%s', (key, bits) => {
    expect(classify(key)).toBe(bits);
  });

  it('normalises spelling', () => {
    expect(normaliseKey('X-Api_Key.v[1] ')).toBe('xapikeyv1');
  });

  it('extra names and globs, matched on the raw and normalised name', () => {
    const c = createKeyClassifier({ ...base, extraSecret: ['x-session-*', 'employeenumber'] });
    expect(c('X-Session-Id') & KEY_SECRET).toBe(KEY_SECRET);
    expect(c('employee_number') & KEY_SECRET).toBe(KEY_SECRET);
    expect(c('x-trace-id') & KEY_SECRET).toBe(0);
  });

  it('exceptions win over names', () => {
    const c = createKeyClassifier({ ...base, exceptSecret: ['tokenType'] });
    expect(c('tokenType') & KEY_SECRET).toBe(0);
    expect(c('token') & KEY_SECRET).toBe(KEY_SECRET);
  });

  it('off means no secret names, but URL parameters are still judged by name', () => {
    const c = createKeyClassifier({ ...base, secretKeys: false });
    expect(c('password')).toBe(KEY_URL_SECRET);
    expect(c('headers')).toBe(KEY_HEADERS);
  });

  it('extra SQL keys', () => {
    const c = createKeyClassifier({ ...base, sqlKeys: ['soql_text'] });
    expect(c('soqlText')).toBe(KEY_SQL);
  });

  it('classifies very long names without caching them', () => {
    const c = createKeyClassifier(base);
    expect(c('x'.repeat(5000) + 'password') & KEY_SECRET).toBe(KEY_SECRET);
  });

  it('uncached classifier agrees with the cached one', () => {
    const a = createKeyClassifier(base, 0);
    for (const k of ['authorization', 'headers', 'email', 'params']) expect(a(k)).toBe(classify(k));
  });
});
