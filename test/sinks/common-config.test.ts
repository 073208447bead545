import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  batchSchema,
  commonSinkKeys,
  resolveBatchLimits,
  retrySchema,
  tlsSchema,
  zHttpUrl,
} from '../../src/sinks/common-config.js';

const sink = z.strictObject({
  type: z.literal('x'),
  ...commonSinkKeys({
    maxEvents: 500,
    maxBytes: 1_000_000,
    timeout: '2s',
    ceilingEvents: 1000,
    receiver: 'X',
  }),
});

function messages(r: { success: boolean; error?: z.ZodError }): string[] {
  return r.error ? r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) : [];
}

describe('commonSinkKeys', () => {
  it('fills every default', () => {
    expect(sink.parse({ type: 'x' })).toEqual({
      type: 'x',
      batch: { max_events: 500, max_bytes: 1_000_000, timeout: 2000, idle_flush: 200 },
      request: { timeout: 30_000, concurrency: 1 },
      retry: { initial_backoff: 1000, max_backoff: 60_000, unhealthy_backoff: 30_000 },
    });
  });

  it('parses units', () => {
    const c = sink.parse({
      type: 'x',
      batch: { max_events: 10, max_bytes: '512KiB', timeout: '250ms', idle_flush: '0s' },
      request: { timeout: '5s', concurrency: 4 },
      retry: { initial_backoff: '500ms', max_backoff: '2m', max_age: '7d' },
    });
    expect(c.batch).toEqual({ max_events: 10, max_bytes: 524_288, timeout: 250, idle_flush: 0 });
    expect(resolveBatchLimits(c.batch)).toEqual({
      maxEvents: 10,
      maxBytes: 524_288,
      timeoutMs: 250,
      idleMs: 0,
    });
    expect(c.request).toEqual({ timeout: 5000, concurrency: 4 });
    expect(c.retry).toEqual({
      initial_backoff: 500,
      max_backoff: 120_000,
      max_age: 604_800_000,
      unhealthy_backoff: 30_000,
    });
  });

  it.each([
    [{ batch: { max_event: 1 } }, /max_event/],
    [{ batch: { max_events: 0 } }, /batch\.max_events/],
    [{ batch: { max_events: 1001 } }, /X accepts at most 1000 events/],
    [{ batch: { max_bytes: 'lots' } }, /invalid size/],
    [{ batch: { max_bytes: 0 } }, /max_bytes must be positive/],
    [{ request: { concurrency: 0 } }, /request\.concurrency/],
    [{ request: { timeout: 'soon' } }, /invalid duration/],
    [{ batch: { idle_flush: 'when quiet' } }, /invalid duration/],
    [{ batch: { idle_flush: '-1s' } }, /invalid duration/],
    [
      { retry: { initial_backoff: '10s', max_backoff: '1s' } },
      /max_backoff must be at least initial_backoff/,
    ],
    [{ retry: { max_age: '0s' } }, /max_age must be positive/],
    [{ retry: { initial_backoff: 0 } }, /initial_backoff must be positive/],
    [{ extra: true }, /extra/],
  ])('rejects %j', (input, re) => {
    const r = sink.safeParse({ type: 'x', ...input });
    expect(r.success).toBe(false);
    expect(messages(r).join('\n')).toMatch(re);
  });

  it('enforces byte ceilings when given', () => {
    const s = batchSchema({
      maxEvents: 1,
      maxBytes: 10,
      timeout: '1s',
      ceilingBytes: 100,
      receiver: 'Y',
    });
    expect(s.safeParse({ max_bytes: 100 }).success).toBe(true);
    expect(messages(s.safeParse({ max_bytes: 101 })).join()).toMatch(/Y accepts at most 100 bytes/);
  });

  it('exposes retry defaults on their own', () => {
    expect(retrySchema.parse({})).toEqual({
      initial_backoff: 1000,
      max_backoff: 60_000,
      unhealthy_backoff: 30_000,
    });
  });
});

describe('tlsSchema', () => {
  it('verifies by default', () => {
    expect(tlsSchema.parse({})).toEqual({ verify: true });
  });
  it('needs cert_file and key_file together', () => {
    expect(messages(tlsSchema.safeParse({ cert_file: '/c.pem' })).join()).toMatch(
      /key_file: cert_file and key_file/,
    );
    expect(messages(tlsSchema.safeParse({ key_file: '/k.pem' })).join()).toMatch(/cert_file: /);
    expect(tlsSchema.safeParse({ cert_file: '/c', key_file: '/k', ca_file: '/ca' }).success).toBe(
      true,
    );
  });
  it('rejects unknown keys', () => {
    expect(tlsSchema.safeParse({ verify_certificate: false }).success).toBe(false);
  });
});

describe('zHttpUrl', () => {
  it.each(['https://siem.example.com/ingest?x=1', 'http://127.0.0.1:8088'])('accepts %s', (u) => {
    expect(zHttpUrl.safeParse(u).success).toBe(true);
  });
  it.each([
    ['not a url', /absolute URL/],
    ['ftp://host/x', /unsupported scheme ftp:/],
    ['https://user:pw@host/x', /credentials in the URL/],
    ['https://host/x#frag', /fragment/],
  ])('rejects %s', (u, re) => {
    const r = zHttpUrl.safeParse(u);
    expect(r.success).toBe(false);
    expect(messages(r).join()).toMatch(re);
    // the message never quotes the URL (it may hold a secret)
    expect(messages(r).join()).not.toContain('pw@');
  });
});
