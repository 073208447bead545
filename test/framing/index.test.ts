import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RECORD_BYTES,
  FRAMING_FORMATS,
  createFramer,
  zFramingFormat,
} from '../../src/framing/index.js';
import { line, manualClock } from './lines.js';

const TS = '2024-05-01T10:00:00Z';

describe('createFramer', () => {
  it('builds a framer for every format', () => {
    for (const f of FRAMING_FORMATS) {
      const framer = createFramer(f);
      expect(framer.push(line('{"event":"LOGIN"}'))).toHaveLength(1);
      expect(framer.stats).toEqual(
        f === 'cri' || f === 'docker'
          ? { malformed: 1, incomplete: 0, truncated: 0 }
          : { malformed: 0, incomplete: 0, truncated: 0 },
      );
    }
  });

  it('rejects bad options and unknown formats', () => {
    for (const maxRecordBytes of [0, -1, 1.5, Number.NaN, Infinity]) {
      expect(() => createFramer('cri', { maxRecordBytes }), String(maxRecordBytes)).toThrow(
        RangeError,
      );
    }
    for (const partialTimeoutMs of [-1, Number.NaN, Infinity]) {
      expect(() => createFramer('cri', { partialTimeoutMs }), String(partialTimeoutMs)).toThrow(
        RangeError,
      );
    }
    expect(() => createFramer('syslog' as never)).toThrow(/unknown framing format/);
  });

  it('bounds merged records at 1 MiB by default', () => {
    const f = createFramer('cri');
    const chunk = 'y'.repeat(16384);
    let offset = 0;
    for (let i = 0; i < 70; i++) f.push(line(`${TS} stdout P ${chunk}`, (offset += 16420)));
    const [rec] = f.push(line(`${TS} stdout F end`, offset + 16420));
    expect(rec!.text.length).toBe(DEFAULT_MAX_RECORD_BYTES);
    expect(rec!.truncated).toBe(true);
    expect(f.stats.truncated).toBe(1);
  });

  it('times out partials after 5 s by default, measured on the injected clock', () => {
    const clock = manualClock(10_000);
    const f = createFramer('docker', { now: clock.now });
    f.push(line('{"log":"half","stream":"stdout"}', 0));
    clock.set(14_999);
    expect(f.push(line('{"log":"other\\n","stream":"stderr"}', 40))).toHaveLength(1);
    expect(f.pendingFrom()).toBe(0);
    clock.set(15_000);
    expect(f.push(line('{"log":"later\\n","stream":"stdout"}', 80))).toEqual([
      { text: 'half', offset: 0, stream: 'stdout', incomplete: true },
      { text: 'later', offset: 80, stream: 'stdout' },
    ]);
  });
});

describe('zFramingFormat', () => {
  it('accepts the five formats and nothing else', () => {
    for (const f of FRAMING_FORMATS) expect(zFramingFormat.parse(f)).toBe(f);
    expect(zFramingFormat.safeParse('CRI').success).toBe(false);
    expect(zFramingFormat.safeParse('syslog').success).toBe(false);
  });
});
