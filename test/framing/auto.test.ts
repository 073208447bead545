import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../src/framing/auto.js';
import { createFramer } from '../../src/framing/index.js';
import { frame, line } from './lines.js';

const CRI_P = '2024-05-01T10:00:00.500000000+00:00 stdout P {"event":"quer';
const CRI_F = '2024-05-01T10:00:00.600000000+00:00 stdout F y"}';
const DOCKER_P = '{"log":"{\\"event\\":\\"quer","stream":"stdout","time":"2024-05-01T10:00:00Z"}';
const DOCKER_F = '{"log":"y\\"}\\n","stream":"stdout","time":"2024-05-01T10:00:01Z"}';

describe('detectFormat', () => {
  it('tells the three shapes apart', () => {
    expect(detectFormat(Buffer.from(CRI_F))).toBe('cri');
    expect(detectFormat(Buffer.from('2024-05-01T10:00:00Z stderr F'))).toBe('cri');
    expect(detectFormat(Buffer.from(DOCKER_F))).toBe('docker');
    expect(detectFormat(Buffer.from(` ${DOCKER_P}`))).toBe('docker');
    expect(detectFormat(Buffer.from('{"event":"LOGIN","log":"x"}'))).toBe('json');
    expect(detectFormat(Buffer.from('{"log":1,"stream":"stdout"}'))).toBe('json');
    expect(detectFormat(Buffer.from('{"log":"x","stream":'))).toBe('json');
    expect(detectFormat(Buffer.from('2024-05-01 10:00:00 INFO started'))).toBe('json');
    expect(detectFormat(Buffer.from('plain'))).toBe('json');
  });

  it('has no answer for a blank line', () => {
    expect(detectFormat(Buffer.from(''))).toBeUndefined();
    expect(detectFormat(Buffer.from(' \t\r'))).toBeUndefined();
  });
});

describe('auto framing', () => {
  it('detects CRI and reassembles its partials', () => {
    const f = createFramer('auto');
    expect(frame(f, `${CRI_P}\n${CRI_F}\n`)).toEqual([
      {
        text: '{"event":"query"}',
        offset: 0,
        stream: 'stdout',
        time: '2024-05-01T10:00:00.500000000+00:00',
      },
    ]);
  });

  it('detects Docker json-file and reassembles its chunks', () => {
    const f = createFramer('auto');
    expect(frame(f, `${DOCKER_P}\n${DOCKER_F}\n`)).toEqual([
      { text: '{"event":"query"}', offset: 0, stream: 'stdout', time: '2024-05-01T10:00:00Z' },
    ]);
    expect(f.pendingFrom()).toBeUndefined();
  });

  it('detects plain JSON lines', () => {
    const f = createFramer('auto');
    expect(frame(f, '{"event":"LOGIN"}\n{"event":"LOGOUT"}\n').map((r) => r.text)).toEqual([
      '{"event":"LOGIN"}',
      '{"event":"LOGOUT"}',
    ]);
  });

  it('decides on the first non-blank line and then sticks with it', () => {
    const f = createFramer('auto', { now: () => 0 });
    expect(f.pendingFrom()).toBeUndefined();
    expect(f.flush(0)).toEqual([]);
    expect(f.push(line('', 0))).toEqual([]);
    expect(f.push(line('  ', 1))).toEqual([]);
    expect(f.push(line(CRI_P, 4))).toEqual([]); // decided: cri
    expect(f.pendingFrom()).toBe(4);
    // a JSON line in a CRI file is malformed for CRI, not a reason to switch
    expect(f.push(line('{"event":"LOGIN"}', 100))).toEqual([
      { text: '{"event":"LOGIN"}', offset: 100 },
    ]);
    expect(f.stats.malformed).toBe(1);
    expect(f.flush(0)).toEqual([
      {
        text: '{"event":"quer',
        offset: 4,
        stream: 'stdout',
        time: '2024-05-01T10:00:00.500000000+00:00',
        incomplete: true,
      },
    ]);
    expect(f.stats.incomplete).toBe(1);
  });

  it('decides per framer: two files can differ', () => {
    const a = createFramer('auto');
    const b = createFramer('auto');
    expect(frame(a, '{"event":"LOGIN"}\n')).toEqual([{ text: '{"event":"LOGIN"}', offset: 0 }]);
    expect(frame(b, `${CRI_P}\n`)).toEqual([]);
    // a stays json: CRI lines pass through untouched and are not malformed there
    expect(frame(a, `${CRI_P}\n`, 50)).toEqual([{ text: CRI_P, offset: 50 }]);
    expect(a.stats.malformed).toBe(0);
  });
});
