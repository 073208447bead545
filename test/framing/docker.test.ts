import { describe, expect, it } from 'vitest';
import { parseDockerLine } from '../../src/framing/docker.js';
import { createFramer } from '../../src/framing/index.js';
import { frame, line, linesOf, manualClock, pushAll } from './lines.js';

const T0 = '2024-05-01T10:00:00.123456789Z';

/** A json-file line the way the daemon writes it (key order log, stream, attrs?, time). */
function dl(log: string, stream = 'stdout', time = T0, attrs?: Record<string, string>): string {
  const a = attrs === undefined ? '' : `,"attrs":${JSON.stringify(attrs)}`;
  return `{"log":${JSON.stringify(log)},"stream":"${stream}"${a},"time":"${time}"}`;
}

function body(...ls: string[]): string {
  return ls.map((l) => `${l}\n`).join('');
}

describe('docker framing', () => {
  it('strips the closing \\n of a complete line and keeps time and stream', () => {
    const f = createFramer('docker');
    expect(frame(f, body(dl('{"event":"LOGIN"}\n'), dl('oops\n', 'stderr')))).toEqual([
      { text: '{"event":"LOGIN"}', offset: 0, stream: 'stdout', time: T0 },
      { text: 'oops', offset: dl('{"event":"LOGIN"}\n').length + 1, stream: 'stderr', time: T0 },
    ]);
    expect(f.stats).toEqual({ malformed: 0, incomplete: 0, truncated: 0 });
  });

  it('reassembles a 40 KiB line written as 16 KiB, 16 KiB, 8 KiB+\\n chunks', () => {
    const original = Array.from({ length: 40 * 1024 }, (_, i) =>
      String.fromCharCode(97 + (i % 26)),
    ).join('');
    const pieces = [
      dl(original.slice(0, 16384), 'stdout', '2024-05-01T10:00:00.1Z'),
      dl(original.slice(16384, 32768), 'stdout', '2024-05-01T10:00:00.2Z'),
      dl(`${original.slice(32768)}\n`, 'stdout', '2024-05-01T10:00:00.3Z'),
    ];
    const f = createFramer('docker');
    const lines = linesOf(body(...pieces), 4096);
    expect(f.push(lines[0]!)).toEqual([]);
    expect(f.pendingFrom()).toBe(4096);
    expect(f.push(lines[1]!)).toEqual([]);
    expect(f.pendingFrom()).toBe(4096);
    const recs = f.push(lines[2]!);
    expect(recs).toHaveLength(1);
    expect(recs[0]!.text.length).toBe(40 * 1024);
    expect(recs[0]).toEqual({
      text: original,
      offset: 4096,
      stream: 'stdout',
      time: '2024-05-01T10:00:00.1Z',
    });
    expect(f.pendingFrom()).toBeUndefined();
  });

  it('joins chunks holding multi-byte characters', () => {
    const f = createFramer('docker');
    expect(frame(f, body(dl('日本'), dl('語 🎉'), dl('!\n')))[0]!.text).toBe('日本語 🎉!');
  });

  it('undoes the daemon escapes (\\u003c \\u003e \\u0026 \\u2028 \\u2029, control chars)', () => {
    const raw = String.raw`{"log":"\u003cscript\u003e a\u0026b \u2028\u2029 \"q\" \\ tab\t\u0001\n","stream":"stdout","time":"${T0}"}`;
    const f = createFramer('docker');
    expect(frame(f, `${raw}\n`)).toEqual([
      {
        text: '<script> a&b \u2028\u2029 "q" \\ tab\t\u0001',
        offset: 0,
        stream: 'stdout',
        time: T0,
      },
    ]);
  });

  it('accepts optional attrs and a missing time', () => {
    const f = createFramer('docker');
    expect(
      frame(
        f,
        body(dl('x\n', 'stdout', T0, { tag: 'retool' }), '{"log":"y\\n","stream":"stderr"}'),
      ),
    ).toEqual([
      { text: 'x', offset: 0, stream: 'stdout', time: T0 },
      { text: 'y', offset: expect.any(Number), stream: 'stderr' },
    ]);
  });

  it('strips one \\r before the \\n, keeps interior ones, and drops blank lines', () => {
    const f = createFramer('docker');
    expect(
      frame(
        f,
        body(dl('crlf\r\n'), dl('a\rb\n'), dl('\n'), dl('  \t\n'), dl('p\r'), dl('\r\n')),
      ).map((r) => r.text),
    ).toEqual(['crlf', 'a\rb', 'p\r']);
  });

  it('keeps interleaved stdout and stderr chunk runs apart', () => {
    const lines = linesOf(body(dl('o1 '), dl('e1 ', 'stderr'), dl('o2\n'), dl('e2\n', 'stderr')));
    expect(pushAll(createFramer('docker'), lines)).toEqual([
      { text: 'o1 o2', offset: 0, stream: 'stdout', time: T0 },
      { text: 'e1 e2', offset: lines[1]!.offset, stream: 'stderr', time: T0 },
    ]);
  });

  it('flushes a dangling chunk run as incomplete, by timeout and at end of life', () => {
    const clock = manualClock(100);
    const f = createFramer('docker', { now: clock.now, partialTimeoutMs: 1000 });
    f.push(line(dl('tail without newline'), 0));
    expect(f.flush(1099, 1000)).toEqual([]);
    expect(f.flush(1100, 1000)).toEqual([
      { text: 'tail without newline', offset: 0, stream: 'stdout', time: T0, incomplete: true },
    ]);
    f.push(line(dl('another'), 300));
    expect(f.pendingFrom()).toBe(300);
    expect(f.flush(0)).toEqual([
      { text: 'another', offset: 300, stream: 'stdout', time: T0, incomplete: true },
    ]);
    expect(f.stats.incomplete).toBe(2);
    expect(f.pendingFrom()).toBeUndefined();
  });

  it('bounds merged chunks at maxRecordBytes and counts the cut once', () => {
    const f = createFramer('docker', { maxRecordBytes: 20 });
    const recs = frame(
      f,
      body(dl('a'.repeat(16)), dl('b'.repeat(16)), dl('c'.repeat(8) + '\n'), dl('ok\n')),
    );
    expect(recs.map((r) => [r.text, r.truncated])).toEqual([
      ['a'.repeat(16) + 'bbbb', true],
      ['ok', undefined],
    ]);
    expect(f.stats.truncated).toBe(1);
    // one complete line over the bound, cut on a character boundary
    expect(frame(f, body(dl(`${'x'.repeat(19)}é\n`)))[0]).toMatchObject({
      text: 'x'.repeat(19),
      truncated: true,
    });
    expect(f.stats.truncated).toBe(2);
  });

  it('passes lines that are not json-file JSON through whole and counts them', () => {
    const bad = [
      'plain text',
      '{"event":"LOGIN","actor":"a"}',
      '[1,2,3]',
      '{"log":"x\\n"}',
      '{"log":"x\\n","stream":"stdin"}',
      '{"log":42,"stream":"stdout"}',
      '{"log":"x\\n","stream":"stdout"',
      'null',
    ];
    const f = createFramer('docker');
    f.push(line(dl('pending '), 0));
    const recs = bad.flatMap((b, i) => f.push(line(b, 100 + i)));
    expect(recs).toEqual(bad.map((text, i) => ({ text, offset: 100 + i })));
    expect(f.stats.malformed).toBe(bad.length);
    expect(f.push(line('', 200))).toEqual([]);
    expect(f.stats.malformed).toBe(bad.length);
    expect(f.push(line(dl('run\n'), 300))).toEqual([
      { text: 'pending run', offset: 0, stream: 'stdout', time: T0 },
    ]);
  });

  it('passes a line the source cut (its JSON no longer closes) through, flagged truncated', () => {
    const cut = dl('a'.repeat(100) + '\n').slice(0, 50);
    const f = createFramer('docker');
    expect(f.push(line(cut, 0, true))).toEqual([{ text: cut, offset: 0, truncated: true }]);
    expect(f.stats.malformed).toBe(1);
  });
});

describe('parseDockerLine', () => {
  it('returns the fields of a json-file line and undefined otherwise', () => {
    expect(parseDockerLine(Buffer.from(`  ${dl('hi\n', 'stderr')}`))).toEqual({
      log: 'hi\n',
      slot: 1,
      time: T0,
    });
    expect(parseDockerLine(Buffer.from('{"log":"x","stream":"stdout","time":5}'))).toEqual({
      log: 'x',
      slot: 0,
      time: undefined,
    });
    expect(parseDockerLine(Buffer.from('nope'))).toBeUndefined();
    expect(parseDockerLine(Buffer.from('{bad json'))).toBeUndefined();
  });
});
