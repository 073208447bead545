import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createLineSplitter,
  utf8CutLength,
  type LineSplitterOptions,
  type SplitLine,
} from '../../../src/sources/file/lines.js';

const opts = (o: Partial<LineSplitterOptions> = {}): LineSplitterOptions => ({
  maxLineBytes: 1024,
  oversized: 'truncate',
  ...o,
});

function feed(chunks: (string | Buffer)[], o: Partial<LineSplitterOptions> = {}, start = 0) {
  const s = createLineSplitter(opts(o), start);
  const lines: SplitLine[] = [];
  for (const c of chunks) lines.push(...s.push(typeof c === 'string' ? Buffer.from(c) : c));
  return { s, lines, texts: lines.map((l) => l.bytes.toString('utf8')) };
}

describe('createLineSplitter', () => {
  it('splits on \\n with byte offsets and keeps \\r', () => {
    const { lines, s } = feed(['a\nbb\r\n\nccc\n']);
    expect(lines.map((l) => [l.bytes.toString(), l.offset, l.end, l.truncated, l.skipped])).toEqual(
      [
        ['a', 0, 2, false, false],
        ['bb\r', 2, 6, false, false],
        ['', 6, 7, false, false],
        ['ccc', 7, 11, false, false],
      ],
    );
    expect(s.consumed).toBe(11);
    expect(s.position).toBe(11);
  });

  it('counts offsets from the start offset', () => {
    const { lines } = feed(['x\ny\n'], {}, 1000);
    expect(lines.map((l) => [l.offset, l.end])).toEqual([
      [1000, 1002],
      [1002, 1004],
    ]);
  });

  it('holds an unterminated tail until its newline arrives', () => {
    const s = createLineSplitter(opts());
    expect(s.push(Buffer.from('{"a":1}\n{"b":'))).toHaveLength(1);
    expect(s.consumed).toBe(8);
    expect(s.held).toBe(5);
    expect(s.push(Buffer.from('2'))).toEqual([]);
    expect(s.consumed).toBe(8);
    const [l] = s.push(Buffer.from('}\n'));
    expect(l!.bytes.toString()).toBe('{"b":2}');
    expect([l!.offset, l!.end]).toEqual([8, 16]);
    expect(s.consumed).toBe(16);
    expect(s.held).toBe(0);
  });

  it('reassembles a line dribbled one byte at a time', () => {
    const text = 'the quick brown fox\nsecond\n';
    const { texts, lines, s } = feed([...Buffer.from(text)].map((b) => Buffer.from([b])));
    expect(texts).toEqual(['the quick brown fox', 'second']);
    expect(lines[1]!.offset).toBe(20);
    expect(s.consumed).toBe(text.length);
  });

  it('keeps a multi-byte UTF-8 character split across reads intact', () => {
    const bytes = Buffer.from('añ€😀\n', 'utf8');
    for (let cut = 1; cut < bytes.length - 1; cut++) {
      const { texts } = feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(texts).toEqual(['añ€😀']);
    }
  });

  it('does not alias the caller buffer (it may be reused for the next read)', () => {
    const s = createLineSplitter(opts());
    const buf = Buffer.from('abc\nde');
    const [l] = s.push(buf);
    buf.fill(0x7a);
    s.push(Buffer.from('f\n'));
    expect(l!.bytes.toString()).toBe('abc');
    const again = createLineSplitter(opts());
    const b2 = Buffer.from('xy');
    again.push(b2);
    b2.fill(0);
    expect(again.push(Buffer.from('z\n'))[0]!.bytes.toString()).toBe('xyz');
  });

  it('a line of exactly max_line_bytes is not oversized; one more byte is', () => {
    const { lines } = feed(['a'.repeat(8) + '\n' + 'b'.repeat(9) + '\n'], { maxLineBytes: 8 });
    expect(lines[0]).toMatchObject({ truncated: false, skipped: false });
    expect(lines[0]!.bytes.length).toBe(8);
    expect(lines[1]).toMatchObject({ truncated: true, skipped: false, offset: 9, end: 19 });
    expect(lines[1]!.bytes.toString()).toBe('b'.repeat(8));
  });

  it('truncates a 5 MiB line while holding at most max_line_bytes, and reads on', () => {
    const max = 64 * 1024;
    const s = createLineSplitter(opts({ maxLineBytes: max }));
    const out: SplitLine[] = [];
    out.push(...s.push(Buffer.from('before\n')));
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      out.push(...s.push(chunk));
      peak = Math.max(peak, s.held);
    }
    expect(peak).toBeLessThanOrEqual(max);
    expect(out).toHaveLength(1);
    expect(s.consumed).toBe(7);
    out.push(...s.push(Buffer.from('\nafter\n')));
    expect(out).toHaveLength(3);
    expect(out[1]).toMatchObject({
      truncated: true,
      skipped: false,
      offset: 7,
      end: 7 + 20 * chunk.length + 1,
    });
    expect(out[1]!.bytes.length).toBe(max);
    expect(out[2]).toMatchObject({ offset: 7 + 20 * chunk.length + 1, truncated: false });
    expect(out[2]!.bytes.toString()).toBe('after');
  });

  it('skips a 5 MiB line in skip mode and holds nothing for it', () => {
    const s = createLineSplitter(opts({ maxLineBytes: 1024, oversized: 'skip' }));
    const chunk = Buffer.alloc(256 * 1024, 0x42);
    const out: SplitLine[] = [];
    for (let i = 0; i < 20; i++) {
      out.push(...s.push(chunk));
      expect(s.held).toBeLessThanOrEqual(1024);
    }
    out.push(...s.push(Buffer.from('\nnext\n')));
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({
      skipped: true,
      truncated: false,
      offset: 0,
      end: 20 * chunk.length + 1,
    });
    expect(out[0]!.bytes.length).toBe(0);
    expect(out[1]!.bytes.toString()).toBe('next');
  });

  it('skips an oversized line that sits inside one chunk', () => {
    const { lines } = feed(['x'.repeat(50) + '\nok\n'], { maxLineBytes: 10, oversized: 'skip' });
    expect(lines.map((l) => [l.skipped, l.bytes.toString()])).toEqual([
      [true, ''],
      [false, 'ok'],
    ]);
  });

  it('never cuts a truncated line inside a UTF-8 character', () => {
    // 'é' is 2 bytes: 5 of them = 10 bytes; cutting at 9 must drop the broken half.
    const { lines } = feed(['ééééé\n'], { maxLineBytes: 9 });
    expect(lines[0]!.bytes.toString('utf8')).toBe('éééé');
    expect(lines[0]!.truncated).toBe(true);
    // Same when the cut happens in held (multi-chunk) bytes.
    const held = feed(['éé', 'ééé\n'], { maxLineBytes: 9 });
    expect(held.texts).toEqual(['éééé']);
  });

  it('skips leading NUL bytes (copytruncate hole) when asked, not elsewhere', () => {
    const hole = Buffer.concat([Buffer.alloc(3000), Buffer.from('a\0b\n\0\0c\n')]);
    const { lines } = feed([hole.subarray(0, 1000), hole.subarray(1000)], { skipLeadingNul: true });
    expect(lines.map((l) => [l.bytes.toString('latin1'), l.offset, l.end])).toEqual([
      ['a\0b', 3000, 3004],
      ['c', 3006, 3008],
    ]);
    const plain = feed(['\0x\n']);
    expect(plain.texts).toEqual(['\0x']);
  });

  it('startInsideLine discards up to the first newline', () => {
    const { texts, lines, s } = feed(
      ['tail of an old line', ' still\nfresh\n'],
      { startInsideLine: true },
      500,
    );
    expect(texts).toEqual(['fresh']);
    expect(lines[0]!.offset).toBe(500 + 26);
    expect(s.consumed).toBe(500 + 32);
  });

  it('finish() returns the unterminated remainder once', () => {
    const s = createLineSplitter(opts({ maxLineBytes: 4 }));
    s.push(Buffer.from('ab\ncdefgh'));
    const last = s.finish();
    expect(last).toMatchObject({ offset: 3, end: 9, truncated: true, skipped: false });
    expect(last!.bytes.toString()).toBe('cdef');
    expect(s.consumed).toBe(9);
    expect(s.finish()).toBeUndefined();
    const skip = createLineSplitter(opts({ maxLineBytes: 4, oversized: 'skip' }));
    skip.push(Buffer.from('abcdefgh'));
    expect(skip.finish()).toMatchObject({ skipped: true, offset: 0, end: 8 });
  });

  it('rejects a nonsensical bound', () => {
    expect(() => createLineSplitter(opts({ maxLineBytes: 0 }))).toThrow(RangeError);
  });

  it('any chunking of any input gives the same lines as splitting the whole', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.constant('\n'), fc.constant('€\n')), {
          maxLength: 30,
        }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 32 }),
        fc.constantFrom<'truncate' | 'skip'>('truncate', 'skip'),
        (parts, cuts, max, mode) => {
          const all = Buffer.from(parts.join(''), 'utf8');
          // Reference: split the whole buffer at once.
          const expected: { text: string; offset: number; end: number; over: boolean }[] = [];
          let start = 0;
          for (let i = 0; i < all.length; i++) {
            if (all[i] !== 10) continue;
            const line = all.subarray(start, i);
            expected.push({
              text: line.toString('latin1'),
              offset: start,
              end: i + 1,
              over: line.length > max,
            });
            start = i + 1;
          }
          const s = createLineSplitter({ maxLineBytes: max, oversized: mode });
          const got: SplitLine[] = [];
          let pos = 0;
          let k = 0;
          while (pos < all.length) {
            const n = cuts[k++ % cuts.length]!;
            got.push(...s.push(all.subarray(pos, pos + n)));
            pos += n;
            expect(s.held).toBeLessThanOrEqual(max);
          }
          expect(got.map((l) => [l.offset, l.end])).toEqual(expected.map((e) => [e.offset, e.end]));
          got.forEach((l, i) => {
            const e = expected[i]!;
            if (!e.over) expect(l.bytes.toString('latin1')).toBe(e.text);
            else if (mode === 'skip') expect(l.skipped).toBe(true);
            else {
              expect(l.truncated).toBe(true);
              expect(e.text.startsWith(l.bytes.toString('latin1'))).toBe(true);
              expect(l.bytes.length).toBeGreaterThan(max - 4);
            }
          });
          expect(s.consumed).toBe(start);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('utf8CutLength', () => {
  it('backs off only over an incomplete trailing sequence', () => {
    const b = Buffer.from('a€b', 'utf8'); // 61 e2 82 ac 62
    expect(utf8CutLength(b, 0, 5)).toBe(5);
    expect(utf8CutLength(b, 0, 4)).toBe(4);
    expect(utf8CutLength(b, 0, 3)).toBe(1);
    expect(utf8CutLength(b, 0, 2)).toBe(1);
    expect(utf8CutLength(Buffer.from([0x80, 0x80]), 0, 2)).toBe(2); // garbage is left as is
  });
});
