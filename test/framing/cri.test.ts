import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFramer } from '../../src/framing/index.js';
import { parseCriHeader } from '../../src/framing/cri.js';
import type { CriHeader } from '../../src/framing/cri.js';
import { frame, line, linesOf, manualClock, pushAll } from './lines.js';

const TS = '2024-05-01T10:00:00.5Z';

/** A CRI line as bytes: prefix + raw content (content may be any bytes). */
function cri(ts: string, stream: string, tag: string, content: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${ts} ${stream} ${tag} `), Buffer.from(content)]);
}

/** Join CRI lines into a file body with offsets as a source would see them. */
function file(...ls: Buffer[]): Buffer {
  return Buffer.concat(ls.flatMap((l) => [l, Buffer.from('\n')]));
}

function header(s: string): CriHeader | undefined {
  const h: CriHeader = { timeEnd: 0, slot: 0, partial: false, contentStart: 0 };
  return parseCriHeader(Buffer.from(s), h) ? { ...h } : undefined;
}

describe('cri framing: reassembly', () => {
  it('joins containerd 16384-byte P,P,F chunks to exactly the original bytes, first timestamp kept', () => {
    // Multi-byte characters guarantee that some chunk boundary splits a character.
    const original = JSON.stringify({ event: 'QUERY_RUN', q: 'é日本🎉'.repeat(3000), n: 1 });
    const bytes = Buffer.from(original);
    expect(bytes.length).toBeGreaterThan(2 * 16384);
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 16384) pieces.push(bytes.subarray(i, i + 16384));
    const ls = pieces.map((p, i) =>
      cri(`2024-05-01T10:00:0${i}.${i + 1}Z`, 'stdout', i === pieces.length - 1 ? 'F' : 'P', p),
    );
    const f = createFramer('cri');
    const recs = frame(f, file(...ls), 1000);
    expect(recs).toEqual([
      { text: original, offset: 1000, stream: 'stdout', time: '2024-05-01T10:00:00.1Z' },
    ]);
    expect(Buffer.from(recs[0]!.text).equals(bytes)).toBe(true);
    expect(f.pendingFrom()).toBeUndefined();
    expect(f.stats).toEqual({ malformed: 0, incomplete: 0, truncated: 0 });
  });

  it('joins CRI-O odd-sized chunks (any cut points, stderr interleaved) to the original text', () => {
    fc.assert(
      fc.property(
        // 1- to 4-byte characters plus the CRI tag letters and separators
        fc
          .array(
            fc.constantFrom(
              'a',
              'Z',
              ' ',
              'P',
              'F',
              ':',
              '\t',
              'é',
              'ß',
              '日',
              '語',
              '🎉',
              '\u{10FFFF}',
            ),
            {
              minLength: 1,
              maxLength: 300,
            },
          )
          .map((cs) => cs.join('')),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        (text, sizes, noise) => {
          const bytes = Buffer.from(text);
          const ls: Buffer[] = [];
          let at = 0;
          let k = 0;
          while (at < bytes.length) {
            const n = sizes[k++ % sizes.length]!;
            const last = at + n >= bytes.length;
            ls.push(
              cri(
                '2024-05-01T10:00:00.500000000+00:00',
                'stdout',
                last ? 'F' : 'P',
                bytes.subarray(at, at + n),
              ),
            );
            if (noise)
              ls.push(cri('2024-05-01T10:00:00.600000000+00:00', 'stderr', 'F', `noise ${k}`));
            at += n;
          }
          const recs = frame(createFramer('cri'), file(...ls)).filter((r) => r.stream === 'stdout');
          // A blank original produces no record by design.
          if (/^[ \t\v\f]*$/.test(text)) return recs.length === 0;
          return recs.length === 1 && recs[0]!.text === text && recs[0]!.offset === 0;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps interleaved stdout and stderr partial runs apart', () => {
    const body = file(
      cri(TS, 'stdout', 'P', 'out-1 '),
      cri(TS, 'stderr', 'P', 'err-1 '),
      cri(TS, 'stdout', 'P', 'out-2 '),
      cri(TS, 'stderr', 'F', 'err-2'),
      cri(TS, 'stdout', 'F', 'out-3'),
    );
    const lines = linesOf(body);
    const recs = pushAll(createFramer('cri'), lines);
    expect(recs).toEqual([
      { text: 'err-1 err-2', offset: lines[1]!.offset, stream: 'stderr', time: TS },
      { text: 'out-1 out-2 out-3', offset: 0, stream: 'stdout', time: TS },
    ]);
  });

  it('does not hold on to the source buffer (sources may reuse it)', () => {
    const f = createFramer('cri');
    const buf = cri(TS, 'stdout', 'P', 'first half ');
    expect(f.push(line(buf, 0))).toEqual([]);
    buf.fill(0x58); // the source overwrites its read buffer
    expect(f.push(line(cri(TS, 'stdout', 'F', 'second half'), 50))).toEqual([
      { text: 'first half second half', offset: 0, stream: 'stdout', time: TS },
    ]);
  });

  it('reads tags with further `:` elements', () => {
    const recs = frame(
      createFramer('cri'),
      file(cri(TS, 'stdout', 'P:x', 'ab'), cri(TS, 'stdout', 'F:x:y', 'cd')),
    );
    expect(recs.map((r) => r.text)).toEqual(['abcd']);
  });
});

describe('cri framing: line shape', () => {
  it('handles empty content: lone empty F is no record, P + empty F closes the run', () => {
    const f = createFramer('cri');
    expect(f.push(line(`${TS} stdout F `))).toEqual([]);
    expect(f.push(line(`${TS} stdout F`))).toEqual([]); // separator missing too: still empty content
    expect(f.push(line(`${TS} stdout P abc`, 100))).toEqual([]);
    expect(f.pendingFrom()).toBe(100);
    expect(f.push(line(`${TS} stdout F `, 200))).toEqual([
      { text: 'abc', offset: 100, stream: 'stdout', time: TS },
    ]);
    expect(f.pendingFrom()).toBeUndefined();
    expect(f.stats.malformed).toBe(0);
  });

  it('accepts containerd and CRI-O timestamps and keeps them as written', () => {
    const stamps = [
      '2024-05-01T10:00:00Z',
      '2024-05-01T10:00:00.5Z',
      '2024-05-01T10:00:00.123456789Z',
      '2024-05-01T10:00:00.500000000+00:00',
      '2024-05-01T12:00:00.500000000+02:00',
      '2024-05-01T04:30:00.000000001-05:30',
    ];
    const f = createFramer('cri');
    const recs = frame(f, file(...stamps.map((t) => cri(t, 'stdout', 'F', 'x'))));
    expect(recs.map((r) => r.time)).toEqual(stamps);
    expect(f.stats.malformed).toBe(0);
  });

  it('rejects timestamps that are not RFC 3339', () => {
    for (const t of [
      '2024-05-01 10:00:00Z',
      '2024-05-01T10:00:00',
      '2024-05-01T10:00:00.Z',
      '2024-05-01T10:00:00+0200',
      '2024-05-01T10:00:00+02:00:00',
      '24-05-01T10:00:00Z',
      '2024-O5-01T10:00:00Z',
      '',
    ]) {
      expect(header(`${t} stdout F x`), t).toBeUndefined();
    }
  });

  it('keeps content with spaces and literal " P " / " F " intact', () => {
    const content = 'user  ran P and F then  stdout F  x ';
    const recs = frame(
      createFramer('cri'),
      file(
        cri(TS, 'stdout', 'F', content),
        cri(TS, 'stderr', 'P', ' P F '),
        cri(TS, 'stderr', 'F', 'F P '),
      ),
    );
    expect(recs.map((r) => r.text)).toEqual([content, ' P F F P ']);
  });

  it('strips one trailing \\r of a complete line (CRI-O) and keeps every other \\r', () => {
    const f = createFramer('cri');
    const recs = frame(
      f,
      file(
        cri(TS, 'stdout', 'F', 'crio line\r'), // CRI-O keeps \r
        cri(TS, 'stdout', 'F', 'containerd line'), // containerd stripped it already
        cri(TS, 'stdout', 'F', 'a\rb'),
        cri(TS, 'stdout', 'F', 'two\r\r'),
        cri(TS, 'stdout', 'P', 'piece ends\r'),
        cri(TS, 'stdout', 'F', 'x'),
        cri(TS, 'stdout', 'P', 'crlf split across reads\r'),
        cri(TS, 'stdout', 'F', ''),
      ),
    );
    expect(recs.map((r) => r.text)).toEqual([
      'crio line',
      'containerd line',
      'a\rb',
      'two\r',
      'piece ends\rx',
      'crlf split across reads',
    ]);
  });

  it('decodes multi-byte UTF-8 and survives invalid bytes', () => {
    const f = createFramer('cri');
    const recs = frame(
      f,
      file(
        cri(TS, 'stdout', 'F', 'héllo 日本 🎉'),
        cri(TS, 'stdout', 'F', Buffer.from([0x61, 0xff, 0xfe, 0x62])),
      ),
    );
    expect(recs.map((r) => r.text)).toEqual(['héllo 日本 🎉', 'a\ufffd\ufffdb']);
  });

  it('passes malformed lines through whole and counts them, without disturbing pending runs', () => {
    const f = createFramer('cri');
    const bad = [
      'plain text line',
      '{"event":"LOGIN"}',
      `${TS} stdlog F x`,
      `${TS} stdout X x`,
      `${TS} stdout PF x`,
      `${TS} stdout`,
      `${TS}stdout F x`,
      `${TS}`,
    ];
    expect(f.push(line(cri(TS, 'stdout', 'P', 'run-'), 0))).toEqual([]);
    const recs = bad.flatMap((b, i) => f.push(line(b, 10 + i)));
    expect(recs).toEqual(bad.map((text, i) => ({ text, offset: 10 + i })));
    expect(f.stats.malformed).toBe(bad.length);
    // blank lines carry nothing: not a record, not malformed
    expect(f.push(line('', 30))).toEqual([]);
    expect(f.push(line('  \r', 31))).toEqual([]);
    expect(f.stats.malformed).toBe(bad.length);
    expect(f.push(line(cri(TS, 'stdout', 'F', 'end'), 40))).toEqual([
      { text: 'run-end', offset: 0, stream: 'stdout', time: TS },
    ]);
  });

  it('carries a source cut (max_line_bytes) into the record', () => {
    const f = createFramer('cri');
    expect(f.push(line(cri(TS, 'stdout', 'F', 'cut here\r'), 0, true))).toEqual([
      { text: 'cut here\r', offset: 0, stream: 'stdout', time: TS, truncated: true },
    ]);
    // A cut piece ends the useful part of its run: later pieces would not join up.
    expect(f.push(line(cri(TS, 'stdout', 'P', 'aaa'), 10, true))).toEqual([]);
    expect(f.push(line(cri(TS, 'stdout', 'P', 'bbb'), 20))).toEqual([]);
    expect(f.push(line(cri(TS, 'stdout', 'F', 'ccc'), 30))).toEqual([
      { text: 'aaa', offset: 10, stream: 'stdout', time: TS, truncated: true },
    ]);
    expect(f.stats.truncated).toBe(0); // counted by the source, not as a merge cut
  });
});

describe('cri framing: dangling partials and checkpoints', () => {
  it('flushes a dangling P as incomplete once older than the timeout', () => {
    const clock = manualClock(1_000);
    const f = createFramer('cri', { now: clock.now });
    expect(f.push(line(cri(TS, 'stdout', 'P', 'last words'), 500))).toEqual([]);
    expect(f.flush(5_999, 5_000)).toEqual([]);
    expect(f.pendingFrom()).toBe(500);
    expect(f.flush(6_000, 5_000)).toEqual([
      { text: 'last words', offset: 500, stream: 'stdout', time: TS, incomplete: true },
    ]);
    expect(f.stats.incomplete).toBe(1);
    expect(f.pendingFrom()).toBeUndefined();
    expect(f.flush(1e12)).toEqual([]);
  });

  it('flush() without a limit emits every pending run, oldest first (file end of life)', () => {
    const f = createFramer('cri', { now: manualClock().now });
    f.push(line(cri(TS, 'stderr', 'P', 'err'), 10));
    f.push(line(cri(TS, 'stdout', 'P', 'out'), 20));
    expect(f.flush(0)).toEqual([
      { text: 'err', offset: 10, stream: 'stderr', time: TS, incomplete: true },
      { text: 'out', offset: 20, stream: 'stdout', time: TS, incomplete: true },
    ]);
    expect(f.stats.incomplete).toBe(2);
  });

  it('never glues a timed-out run to later content: the next push emits it first', () => {
    const clock = manualClock(0);
    const f = createFramer('cri', { now: clock.now, partialTimeoutMs: 5_000 });
    f.push(line(cri(TS, 'stdout', 'P', 'exit without newline'), 0));
    clock.set(4_999);
    f.push(line(cri(TS, 'stderr', 'F', 'other stream'), 40));
    expect(f.pendingFrom()).toBe(0);
    clock.set(5_000);
    expect(
      f.push(line(cri('2024-05-01T10:05:00Z', 'stdout', 'F', 'next container line'), 80)),
    ).toEqual([
      { text: 'exit without newline', offset: 0, stream: 'stdout', time: TS, incomplete: true },
      { text: 'next container line', offset: 80, stream: 'stdout', time: '2024-05-01T10:05:00Z' },
    ]);
    expect(f.stats.incomplete).toBe(1);
  });

  it('moves pendingFrom as runs complete', () => {
    const f = createFramer('cri');
    const lines = linesOf(
      file(
        cri(TS, 'stdout', 'F', 'whole'),
        cri(TS, 'stdout', 'P', 'a'),
        cri(TS, 'stderr', 'P', 'b'),
        cri(TS, 'stdout', 'F', 'a'),
        cri(TS, 'stdout', 'P', 'c'),
        cri(TS, 'stderr', 'F', 'b'),
        cri(TS, 'stdout', 'F', 'c'),
      ),
    );
    const seen = lines.map((l) => {
      f.push(l);
      return f.pendingFrom();
    });
    const o = lines.map((l) => l.offset);
    expect(seen).toEqual([undefined, o[1], o[1], o[2], o[2], o[4], undefined]);
  });
});

describe('cri framing: merge bound', () => {
  it('keeps the first maxRecordBytes bytes, discards the rest of the run and counts it once', () => {
    const f = createFramer('cri', { maxRecordBytes: 10 });
    const recs = frame(
      f,
      file(
        cri(TS, 'stdout', 'P', 'abcdef'),
        cri(TS, 'stdout', 'P', 'ghijkl'),
        cri(TS, 'stdout', 'P', 'mno'),
        cri(TS, 'stdout', 'F', 'pqr'),
        cri(TS, 'stdout', 'F', 'after'),
      ),
    );
    expect(recs).toEqual([
      { text: 'abcdefghij', offset: 0, stream: 'stdout', time: TS, truncated: true },
      { text: 'after', offset: expect.any(Number), stream: 'stdout', time: TS },
    ]);
    expect(f.stats.truncated).toBe(1);
  });

  it('bounds a single long F line too and never ends on half a character', () => {
    const f = createFramer('cri', { maxRecordBytes: 5 });
    expect(frame(f, file(cri(TS, 'stdout', 'F', 'abcdé')))[0]).toMatchObject({
      text: 'abcd',
      truncated: true,
    });
    expect(
      frame(f, file(cri(TS, 'stdout', 'P', 'abcd'), cri(TS, 'stdout', 'F', 'éz')))[0],
    ).toMatchObject({ text: 'abcd', truncated: true });
    expect(f.stats.truncated).toBe(2);
  });

  it('a run cut at the bound and never finished is both truncated and incomplete', () => {
    const f = createFramer('cri', { maxRecordBytes: 4 });
    frame(f, file(cri(TS, 'stdout', 'P', 'abcdef'), cri(TS, 'stdout', 'P', 'gh')));
    expect(f.flush(0)).toEqual([
      { text: 'abcd', offset: 0, stream: 'stdout', time: TS, truncated: true, incomplete: true },
    ]);
    expect(f.stats).toEqual({ malformed: 0, incomplete: 1, truncated: 1 });
  });

  it('holds memory to the bound for a run of thousands of pieces', () => {
    const f = createFramer('cri', { maxRecordBytes: 64 * 1024 });
    const chunk = 'x'.repeat(16384);
    for (let i = 0; i < 1000; i++) f.push(line(cri(TS, 'stdout', 'P', chunk), i * 16500));
    const [rec] = f.push(line(cri(TS, 'stdout', 'F', 'end'), 1000 * 16500));
    expect(rec!.text.length).toBe(64 * 1024);
    expect(rec!.truncated).toBe(true);
  });
});

describe('parseCriHeader', () => {
  it('locates stream, tag and content', () => {
    expect(header(`${TS} stderr P hello world`)).toEqual({
      timeEnd: TS.length,
      slot: 1,
      partial: true,
      contentStart: TS.length + 10,
    });
    expect(header(`${TS} stdout F `)).toMatchObject({
      slot: 0,
      partial: false,
      contentStart: TS.length + 10,
    });
  });
});
