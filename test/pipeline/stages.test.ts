import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPipelineParts } from '../../src/components.js';
import {
  bodyWriter,
  concatResults,
  nonAuditEvent,
  processRecords,
  type StageResult,
} from '../../src/pipeline/stages.js';
import { mixedLines, recordsOf, richConfig } from './fixtures.js';

const TIME = '2026-11-21T10:00:00.123Z';
const input = (lines: string[], offset = 0) => ({
  source: 'app',
  file: '/x/a.log',
  streamId: 'stream-1',
  records: recordsOf(lines, offset, TIME),
});

/** Maps compared with their order: label order decides the /metrics text. */
const plain = (r: StageResult) => ({
  items: r.items,
  sinks: r.sinks,
  counters: {
    ...r.counters,
    byRoute: [...r.counters.byRoute],
    byRule: [...r.counters.byRule],
    byProductSeverity: [...r.counters.byProductSeverity],
    unknownByProduct: [...r.counters.unknownByProduct],
  },
});

describe('processRecords', () => {
  const parts = buildPipelineParts(richConfig());

  it('parses, filters, redacts, routes and serialises, counting everything', () => {
    const r = processRecords(
      parts,
      input([
        JSON.stringify({ id: 1, userId: 1, actionType: 'QUERY_RUN', createdAt: TIME }),
        JSON.stringify({ id: 2, userId: 1, actionType: 'DELETE_GROUP', createdAt: TIME }),
        '{"msg":"plain","password":"hunter2"}',
        '{"actionType": oops',
        JSON.stringify({ actor: 'ana@example.com', action: 'custom.x', timestamp: TIME }),
      ]),
    );
    expect(r.counters).toMatchObject({ audit: 3, nonAudit: 1, malformed: 1, unrouted: 1 });
    // QUERY_RUN → a; DELETE_GROUP → sec; plain and malformed lines → logs (non_audit route).
    expect(r.items.map((i) => i.sinks)).toEqual([['a'], ['sec'], ['logs'], ['logs']]);
    expect(r.sinks).toEqual(['a', 'sec', 'logs']);
    expect([...r.counters.byRoute]).toEqual([
      ['queries', 1],
      ['security', 1],
      ['rest', 2],
    ]);
    expect([...r.counters.unknownByProduct]).toEqual([['generic', 1]]);
    // Bodies come encoded (UTF-8 views of the batch's buffers).
    const bodies = r.items.map((i) => Buffer.from(i.body as Uint8Array).toString('utf8'));
    expect(bodies.map((b) => (JSON.parse(b) as { id: string }).id)).toEqual(
      r.items.map((i) => i.id),
    );
    expect(bodies.join('\n')).not.toContain('hunter2');
    expect(JSON.stringify(r.items.map((i) => ({ ...i, body: null })))).not.toContain('hunter2');
    // The malformed note says where and why, never what.
    expect(r.counters.malformedNotes).toHaveLength(1);
    expect(r.counters.malformedNotes[0]!.offset).toBeGreaterThan(0);
    expect(JSON.stringify(r.counters.malformedNotes)).not.toContain('oops');
  });

  it('drops events below min_severity and counts them as filtered', () => {
    const p = buildPipelineParts(richConfig({ audit: { min_severity: 'critical' } }));
    const r = processRecords(
      p,
      input([
        JSON.stringify({ id: 1, userId: 1, actionType: 'QUERY_RUN', createdAt: TIME }),
        JSON.stringify({ id: 2, userId: 1, actionType: 'DELETE_GROUP', createdAt: TIME }),
      ]),
    );
    expect(r.counters).toMatchObject({ audit: 2, filtered: 1 });
    expect(r.items).toHaveLength(1);
  });

  it('throws for a source it has no parser for', () => {
    expect(() => processRecords(parts, { ...input(['{}']), source: 'nope' })).toThrow(
      /no parser for source nope/,
    );
  });

  it('survives garbage and huge records', () => {
    const huge = `{"actionType":"QUERY_RUN","metadata":{"q":"${'x'.repeat(2_000_000)}"}`;
    const r = processRecords(parts, input(['\u0000\u0001\u00ff', '', '[1,2', huge, '{}']));
    expect(r.counters.audit + r.counters.nonAudit + r.counters.malformed).toBe(5);
  });

  it('two contiguous slices concatenated equal one pass over the batch', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        (seed, n, cut) => {
          const lines = mixedLines(n, seed);
          const k = Math.min(cut, n);
          const whole = processRecords(parts, input(lines));
          const all = input(lines);
          const head = { ...all, records: all.records.slice(0, k) };
          const tail = { ...all, records: all.records.slice(k) };
          const joined = concatResults([processRecords(parts, head), processRecords(parts, tail)]);
          expect(plain(joined)).toEqual(plain(whole));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('nonAuditEvent', () => {
  it('takes the runtime timestamp and keeps JSON lines as detail', () => {
    const e = nonAuditEvent(
      { text: '{"msg":"x"}', offset: 7, time: TIME },
      'app',
      '/x/a.log',
      's',
      'non_audit',
    );
    expect(e).toMatchObject({
      timestamp: TIME,
      product: 'log',
      action: 'non_audit',
      detail: { msg: 'x' },
      source: { name: 'app', file: '/x/a.log', offset: 7 },
    });
  });

  it('keeps a malformed line as a message and has no offset without a file', () => {
    const e = nonAuditEvent({ text: '{"a":', offset: 7 }, 'pipe', null, 's', 'malformed');
    expect(e.detail).toEqual({ message: '{"a":' });
    expect(e.source.offset).toBeNull();
    expect(Number.isFinite(Date.parse(e.timestamp))).toBe(true);
  });
});

describe('bodyWriter', () => {
  it('encodes every body intact, across buffers and for bodies larger than one', () => {
    const write = bodyWriter();
    const bodies = [
      ...Array.from({ length: 400 }, (_, i) => JSON.stringify({ i, s: 'é😀'.repeat(i) })),
      JSON.stringify({ big: 'x'.repeat(600_000) }),
      '{"after":"big"}',
    ];
    const views = bodies.map((b) => write(b));
    expect(views.map((v) => v.toString('utf8'))).toEqual(bodies);
    expect(views.map((v) => v.length)).toEqual(bodies.map((b) => Buffer.byteLength(b)));
    // Several buffers of their own (never the shared pool: the worker transfers them).
    const buffers = new Set(views.map((v) => v.buffer));
    expect(buffers.size).toBeGreaterThan(2);
    for (const b of buffers) expect(b.byteLength).toBeGreaterThanOrEqual(16 * 1024);
  });
});
