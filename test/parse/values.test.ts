import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEPTH_MARKER,
  MAX_DEPTH,
  freeKey,
  normaliseIp,
  normaliseMetadata,
  parseJsonBounded,
  parseJsonContainer,
  parseOutcome,
  parseSeverityWord,
  parseTimestamp,
  parseTimestampGeneral,
  setOwn,
  startsJsonObject,
  toDuration,
  toId,
} from '../../src/parse/values.js';

describe('parseTimestamp fast path for toISOString text', () => {
  const two = (lo: number, hi: number) =>
    fc.integer({ min: lo, max: hi }).map((n) => String(n).padStart(2, '0'));
  // Every field over and past its range, years around the edges the general path cares
  // about (1969/1970, century leap rules), and the separators in and out of shape.
  const year = fc.oneof(
    fc.constantFrom('1969', '1970', '1900', '2000', '2023', '2024', '2100', '2400', '0000', '9999'),
    fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
  );
  const sep = (usual: string, odd: string[]) =>
    fc.oneof({ weight: 9, arbitrary: fc.constant(usual) }, fc.constantFrom(...odd));
  const text = fc
    .tuple(
      year,
      sep('-', ['/', '_']),
      two(0, 19),
      sep('-', ['.']),
      two(0, 39),
      sep('T', ['t', ' ', 'X']),
      two(0, 29),
      sep(':', ['.']),
      two(0, 69),
      sep(':', ['-']),
      two(0, 69),
      sep('.', [',', ':']),
      fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0')),
      sep('Z', ['z', '+00:00', '', 'Z ']),
    )
    .map((parts) => parts.join(''));
  const mangled = fc.oneof(
    text,
    text.map((t) => ` ${t}`),
    fc
      .tuple(text, fc.nat({ max: 23 }), fc.constantFrom('a', '٣', '/', ' '))
      .map(([t, i, c]) => t.slice(0, i) + c + t.slice(i + 1)),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  );

  it('answers exactly what the general path answers (property)', () => {
    fc.assert(
      fc.property(mangled, (s) => {
        expect(parseTimestamp(s)).toEqual(parseTimestampGeneral(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves impossible dates, leap seconds and pre-1970 times to the general path', () => {
    for (const s of [
      '2023-02-29T00:00:00.000Z',
      '2024-13-01T00:00:00.000Z',
      '2024-01-31T24:00:00.000Z',
      '2016-12-31T23:59:60.000Z',
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.000Z',
    ]) {
      expect(parseTimestamp(s)).toEqual(parseTimestampGeneral(s));
    }
    expect(parseTimestamp('1969-12-31T23:59:59.999Z')).toBeNull();
    expect(parseTimestamp('2016-12-31T23:59:60.000Z')?.iso).toBe('2017-01-01T00:00:00.000Z');
  });
});

describe('parseTimestamp', () => {
  it.each([
    ['2024-01-31T14:11:37.340Z', '2024-01-31T14:11:37.340Z', true],
    ['2024-01-31T14:11:37Z', '2024-01-31T14:11:37.000Z', true],
    ['2024-01-31T14:11:37.340123456Z', '2024-01-31T14:11:37.340Z', true],
    ['2024-01-31T16:11:37.3+02:00', '2024-01-31T14:11:37.300Z', true],
    ['2024-01-31T09:41:37-0430', '2024-01-31T14:11:37.000Z', true],
    // Postgres timestamptz text form
    ['2024-01-31 14:11:37.34+00', '2024-01-31T14:11:37.340Z', true],
    ['2024-01-31 14:11:37 UTC', '2024-01-31T14:11:37.000Z', true],
    // zone-less: read as UTC, flagged as weaker
    ['2023-11-02 17:12:40', '2023-11-02T17:12:40.000Z', false],
    ['2024-01-31', '2024-01-31T00:00:00.000Z', false],
    ['Wed, 31 Jan 2024 14:11:37 GMT', '2024-01-31T14:11:37.000Z', true],
  ])('%s', (input, iso, zoned) => {
    expect(parseTimestamp(input)).toEqual({ iso, zoned });
  });

  it('reads epoch numbers by magnitude: s, ms, µs, ns', () => {
    const iso = '2024-01-31T14:11:37.340Z';
    expect(parseTimestamp(1706710297.34)?.iso).toBe(iso);
    expect(parseTimestamp(1706710297340)?.iso).toBe(iso);
    expect(parseTimestamp(1706710297340001)?.iso).toBe(iso);
    expect(parseTimestamp(1706710297340001000)?.iso).toBe(iso);
    expect(parseTimestamp('1706710297340')?.iso).toBe(iso);
    expect(parseTimestamp('1706710297')?.iso).toBe('2024-01-31T14:11:37.000Z');
  });

  it('knows leap years and leap seconds', () => {
    expect(parseTimestamp('2024-02-29T00:00:00Z')?.iso).toBe('2024-02-29T00:00:00.000Z');
    expect(parseTimestamp('2000-02-29T00:00:00Z')?.iso).toBe('2000-02-29T00:00:00.000Z');
    expect(parseTimestamp('2023-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('1900-02-29T00:00:00Z')).toBeNull();
    expect(parseTimestamp('2016-12-31T23:59:60.000Z')?.iso).toBe('2017-01-01T00:00:00.000Z');
    expect(parseTimestamp('2024-01-31T14:11:37.340z')?.iso).toBe('2024-01-31T14:11:37.340Z');
  });

  it('agrees with Date for every valid ISO string with an offset', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1971-01-01T00:00:00Z'),
          max: new Date('9998-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        (date, offsetMin) => {
          const local = new Date(date.getTime() + offsetMin * 60_000).toISOString().slice(0, 23);
          const sign = offsetMin < 0 ? '-' : '+';
          const abs = Math.abs(offsetMin);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          expect(parseTimestamp(local + zone)?.iso).toBe(date.toISOString());
          expect(parseTimestamp(date.toISOString())?.iso).toBe(date.toISOString());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses times before 1970 (never mapping year 99 to 1999) and after 9999', () => {
    expect(parseTimestamp('0099-01-01T00:00:00Z')).toBeNull();
    expect(parseTimestamp('1969-12-31T23:59:59Z')).toBeNull();
    expect(parseTimestamp('1970-01-01T00:00:00Z')?.iso).toBe('1970-01-01T00:00:00.000Z');
    expect(parseTimestamp('9999-12-31T23:59:59.999-01:00')).toBeNull();
  });

  it.each([
    ['2024-02-31T00:00:00Z'],
    ['2024-13-01T00:00:00Z'],
    ['2024-01-01T25:00:00Z'],
    ['2024-01-01T00:00:00+25:00'],
    ['not a date'],
    ['yesterday'],
    ['Jan 31 2024 14:11:37'], // no zone, not ISO: host-dependent, refused
    [''],
    ['2024-01-31T14:11:37Z'.repeat(10)],
  ])('refuses %j', (input) => {
    expect(parseTimestamp(input)).toBeNull();
  });

  it('refuses non-timestamps and out-of-range values', () => {
    for (const v of [null, undefined, true, {}, [], Number.NaN, Infinity, -1, 1e20 * 1e10]) {
      expect(parseTimestamp(v)).toBeNull();
    }
  });
});

describe('normaliseIp', () => {
  it('unwraps IPv4-mapped IPv6', () => {
    expect(normaliseIp('::ffff:10.0.0.5')).toBe('10.0.0.5');
    expect(normaliseIp('::FFFF:192.168.1.20')).toBe('192.168.1.20');
    expect(normaliseIp('0:0:0:0:0:ffff:10.0.0.5')).toBe('10.0.0.5');
  });

  it('keeps other addresses as written (trimmed)', () => {
    expect(normaliseIp(' 203.0.113.7 ')).toBe('203.0.113.7');
    expect(normaliseIp('2001:db8::1')).toBe('2001:db8::1');
    expect(normaliseIp('::1')).toBe('::1');
    expect(normaliseIp('::ffff:not-an-ip')).toBe('::ffff:not-an-ip');
  });

  it('returns null for nothing', () => {
    for (const v of ['', '   ', null, 5, {}]) expect(normaliseIp(v)).toBeNull();
  });
});

describe('scalars', () => {
  it('toId', () => {
    expect(toId(42)).toBe('42');
    expect(toId('abc')).toBe('abc');
    expect(toId(12345678901234567890n)).toBe('12345678901234567890');
    for (const v of ['', Number.NaN, true, null, {}, []]) expect(toId(v)).toBeNull();
  });

  it('toDuration', () => {
    expect(toDuration(87)).toBe(87);
    expect(toDuration(87.5)).toBe(87.5);
    expect(toDuration('120')).toBe(120);
    for (const v of [-1, '12ms', Infinity, null, '']) expect(toDuration(v)).toBeNull();
  });

  it('parseOutcome', () => {
    expect(parseOutcome(true)).toBe('success');
    expect(parseOutcome(false)).toBe('failure');
    expect(parseOutcome('Succeeded')).toBe('success');
    expect(parseOutcome('DENIED')).toBe('failure');
    expect(parseOutcome('unknown')).toBe('unknown');
    expect(parseOutcome(204)).toBe('success');
    expect(parseOutcome(403)).toBe('failure');
    expect(parseOutcome('500')).toBe('failure');
    for (const v of ['pending', 42, null, {}]) expect(parseOutcome(v)).toBeNull();
  });

  it('parseSeverityWord', () => {
    expect(parseSeverityWord('critical')).toBe('critical');
    expect(parseSeverityWord('HIGH')).toBe('critical');
    expect(parseSeverityWord('warning')).toBe('warn');
    expect(parseSeverityWord('medium')).toBe('warn');
    expect(parseSeverityWord(' low ')).toBe('info');
    for (const v of ['extreme', 3, null]) expect(parseSeverityWord(v)).toBeNull();
  });
});

describe('JSON helpers', () => {
  it('parseJsonBounded reports errors without quoting the input', () => {
    const r = parseJsonBounded('{"password":"hunter2",');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/^invalid JSON/);
      expect(r.error).not.toContain('hunter2');
    }
  });

  it('parseJsonBounded cuts nesting deeper than MAX_DEPTH so it can be serialised', () => {
    const n = 100_000;
    const r = parseJsonBounded('{"a":' + '['.repeat(n) + ']'.repeat(n) + ',"b":1}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const out = JSON.stringify(r.value); // would overflow the stack uncapped
    expect(out).toContain(DEPTH_MARKER);
    expect((r.value as Record<string, unknown>).b).toBe(1);
    let depth = 0;
    let cur: unknown = (r.value as Record<string, unknown>).a;
    while (Array.isArray(cur)) {
      depth++;
      cur = cur[0];
    }
    expect(depth).toBe(MAX_DEPTH - 1);
    expect(cur).toBe(DEPTH_MARKER);
  });

  it('parseJsonBounded leaves shallow values untouched', () => {
    const r = parseJsonBounded('{"a":[[[{"b":"{[{["}]]]}');
    expect(r).toEqual({ ok: true, value: { a: [[[{ b: '{[{[' }]]] } });
  });

  it('parseJsonContainer only parses objects and arrays', () => {
    expect(parseJsonContainer(' {"a":1}')).toEqual({ a: 1 });
    expect(parseJsonContainer('\uFEFF[1]')).toEqual([1]);
    expect(parseJsonContainer('"str"')).toBeUndefined();
    expect(parseJsonContainer('42')).toBeUndefined();
    expect(parseJsonContainer('{broken')).toBeUndefined();
    expect(startsJsonObject('  {')).toBe(true);
    expect(startsJsonObject('[')).toBe(false);
  });

  it('normaliseMetadata parses JSON strings and keeps everything else', () => {
    expect(normaliseMetadata('{"method":"password"}')).toEqual({ method: 'password' });
    expect(normaliseMetadata('plain text')).toBe('plain text');
    expect(normaliseMetadata('{not json')).toBe('{not json');
    const o = { a: 1 };
    expect(normaliseMetadata(o)).toBe(o);
  });
});

describe('object helpers', () => {
  it('setOwn writes __proto__ as data, not as the prototype', () => {
    const o: Record<string, unknown> = {};
    setOwn(o, '__proto__', { polluted: true });
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('freeKey finds an unused name', () => {
    expect(freeKey({}, 'a')).toBe('a');
    expect(freeKey({ a: 1 }, 'a')).toBe('_a');
    expect(freeKey({ a: 1, _a: 2 }, 'a')).toBe('__a');
  });
});
