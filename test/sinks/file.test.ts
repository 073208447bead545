import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compilePathTemplate,
  createFileSink,
  fileSinkSchema,
  renderPath,
} from '../../src/sinks/file.js';
import type { Logger } from 'pino';
import type { QueuedEvent } from '../../src/sinks/types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'as-file-'));
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

const ev = (i: number, product = 'retool', timestamp = '2026-11-21T10:00:00.123Z'): QueuedEvent => {
  const body = JSON.stringify({ id: `e${i}`, timestamp, product, source: { name: 'src' } });
  return { seq: i, id: `e${i}`, body, bytes: body.length, ingestedAt: 0 };
};
const cfg = (over: Record<string, unknown>) => fileSinkSchema.parse({ type: 'file', ...over });
const signal = new AbortController().signal;

describe('path templates', () => {
  it('renders strftime parts from the event time (UTC) and event fields', () => {
    const parts = compilePathTemplate('/a/%Y-%m-%d/%H/{{product}}-{{source.name}}.ndjson');
    expect(renderPath(parts, JSON.parse(ev(1).body))).toBe('/a/2026-11-21/10/retool-src.ndjson');
  });
  it('makes field values path-safe so an event cannot escape the directory', () => {
    const parts = compilePathTemplate('/a/{{product}}.ndjson');
    expect(renderPath(parts, { product: '../../etc/passwd' })).toBe('/a/.._.._etc_passwd.ndjson');
    expect(renderPath(parts, { product: '..' })).toBe('/a/_.ndjson');
    expect(renderPath(parts, {})).toBe('/a/_.ndjson');
  });
  it('rejects bad templates', () => {
    expect(() => compilePathTemplate('/a/%Q')).toThrow(/unsupported strftime/);
    expect(() => compilePathTemplate('/a/{{product')).toThrow(/unclosed/);
    expect(() => compilePathTemplate('/a/{{a b}}')).toThrow(/invalid field/);
  });
});

describe('file sink', () => {
  it('appends NDJSON per rendered path with mode 0600, creating directories', async () => {
    const s = createFileSink('f', cfg({ path: join(dir, '%Y/{{product}}.ndjson') }));
    expect(await s.send([ev(1), ev(2, 'tooljet'), ev(3)], signal)).toEqual({ kind: 'ok' });
    expect(await s.send([ev(4)], signal)).toEqual({ kind: 'ok' });
    await s.close();
    const retool = join(dir, '2026/retool.ndjson');
    expect(
      readFileSync(retool, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    ).toEqual(['e1', 'e3', 'e4']);
    expect(readFileSync(join(dir, '2026/tooljet.ndjson'), 'utf8')).toContain('"e2"');
    expect(statSync(retool).mode & 0o777).toBe(0o600);
  });

  it('writes the stored bytes of leased events without decoding them (fixed path)', async () => {
    const path = join(dir, 'all.ndjson');
    const s = createFileSink('f', cfg({ path }));
    const leased = [ev(1), ev(2)].map((e): QueuedEvent => {
      const raw = Buffer.from(e.body, 'utf8');
      return {
        seq: e.seq,
        id: e.id,
        raw,
        bytes: raw.length,
        ingestedAt: 0,
        get body(): string {
          throw new Error('body decoded');
        },
      };
    });
    expect(await s.send(leased, signal)).toEqual({ kind: 'ok' });
    await s.close();
    expect(readFileSync(path, 'utf8')).toBe(`${ev(1).body}\n${ev(2).body}\n`);
  });

  it('writes one gzip member per batch, readable as one gzip file', async () => {
    const path = join(dir, 'out.ndjson.gz');
    const s = createFileSink('f', cfg({ path, compression: 'gzip' }));
    await s.send([ev(1)], signal);
    await s.send([ev(2), ev(3)], signal);
    await s.close();
    const lines = gunzipSync(readFileSync(path)).toString().trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(['e1', 'e2', 'e3']);
  });

  it('rotates by size and keeps max_files old files', async () => {
    const path = join(dir, 'a.ndjson');
    let t = Date.UTC(2026, 0, 1);
    const s = createFileSink('f', cfg({ path, rotate: { max_size: 200, max_files: 2 } }), {
      now: () => (t += 1000),
    });
    for (let i = 0; i < 10; i++) await s.send([ev(i)], signal);
    await s.close();
    const files = readdirSync(dir).sort();
    expect(files.filter((f) => f !== 'a.ndjson')).toHaveLength(2);
    const all = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'));
    expect(all.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(200);
  });

  it('returns a retry verdict (not an exception) when the directory is not writable', async () => {
    if (process.getuid?.() === 0) {
      // root ignores permissions: use a path whose parent is a file instead
      const s = createFileSink('f', cfg({ path: join(dir, 'file-not-dir', 'x.ndjson') }));
      await createFileSink('g', cfg({ path: join(dir, 'file-not-dir') })).send([ev(0)], signal);
      const v = await s.send([ev(1)], signal);
      expect(v).toMatchObject({ kind: 'retry' });
      expect((v as { reason: string }).reason).toMatch(/write failed: (ENOTDIR|EEXIST)/);
      return;
    }
    chmodSync(dir, 0o500);
    const s = createFileSink('f', cfg({ path: join(dir, 'sub', 'x.ndjson') }));
    expect(await s.send([ev(1)], signal)).toMatchObject({ kind: 'retry' });
  });
});

describe('file sink after an interrupted write', () => {
  const lines = (path: string) => readFileSync(path, 'utf8').split('\n');

  it('cuts the partial last line a killed process left, and writes whole lines after it', async () => {
    const path = join(dir, 'a.ndjson');
    const whole = ev(1).body;
    writeFileSync(path, `${whole}\n${ev(2).body.slice(0, 17)}`); // killed mid-write
    const warnings: unknown[] = [];
    const logger = { warn: (o: unknown) => warnings.push(o) } as unknown as Logger;
    const s = createFileSink('f', cfg({ path }), { logger });
    expect((await s.send([ev(2), ev(3)], signal)).kind).toBe('ok');
    await s.close();
    expect(lines(path)).toEqual([whole, ev(2).body, ev(3).body, '']);
    for (const l of lines(path).filter(Boolean))
      expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(warnings).toEqual([{ file: path, bytes: 17 }]);
  });

  it('cuts a file that holds nothing but a partial line', async () => {
    const path = join(dir, 'a.ndjson');
    writeFileSync(path, ev(1).body.slice(0, 30));
    const s = createFileSink('f', cfg({ path }));
    await s.send([ev(1)], signal);
    await s.close();
    expect(lines(path)).toEqual([ev(1).body, '']);
  });

  it('leaves a long unterminated tail it cannot have written, and starts a new line after it', async () => {
    const path = join(dir, 'a.ndjson');
    const foreign = `header\n${'x'.repeat(17 * 1024 * 1024)}`;
    writeFileSync(path, foreign);
    const s = createFileSink('f', cfg({ path }));
    await s.send([ev(1)], signal);
    await s.close();
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith(foreign)).toBe(true);
    expect(text.slice(foreign.length)).toBe(`\n${ev(1).body}\n`);
  });

  it('leaves a file that ends with a newline as it is', async () => {
    const path = join(dir, 'a.ndjson');
    writeFileSync(path, `${ev(1).body}\n`);
    const s = createFileSink('f', cfg({ path }));
    await s.send([ev(2)], signal);
    await s.close();
    expect(lines(path)).toEqual([ev(1).body, ev(2).body, '']);
  });

  describe('gzip', () => {
    const member = (...evs: QueuedEvent[]) =>
      gzipSync(Buffer.from(evs.map((e) => `${e.body}\n`).join('')));
    const bodies = (path: string) =>
      gunzipSync(readFileSync(path)).toString('utf8').split('\n').filter(Boolean);

    it.each([1, 2, 3, 10, 40])(
      'cuts a member torn after %i bytes, so every whole member and the next ones read back',
      async (cut) => {
        const path = join(dir, 'a.ndjson.gz');
        const whole = Buffer.concat([member(ev(1)), member(ev(2), ev(3))]);
        const torn = member(ev(4), ev(5));
        expect(cut).toBeLessThan(torn.length);
        writeFileSync(path, Buffer.concat([whole, torn.subarray(0, cut)]));
        const warnings: unknown[] = [];
        const logger = { warn: (o: unknown) => warnings.push(o) } as unknown as Logger;
        const s = createFileSink('f', cfg({ path, compression: 'gzip' }), { logger });
        expect((await s.send([ev(4), ev(5)], signal)).kind).toBe('ok');
        await s.close();
        expect(readFileSync(path).subarray(0, whole.length).equals(whole)).toBe(true);
        expect(bodies(path)).toEqual([1, 2, 3, 4, 5].map((i) => ev(i).body));
        expect(warnings).toEqual([{ file: path, bytes: cut }]);
      },
    );

    it('leaves a file that ends with a whole member as it is', async () => {
      const path = join(dir, 'a.ndjson.gz');
      const whole = Buffer.concat([member(ev(1)), member(ev(2))]);
      writeFileSync(path, whole);
      const s = createFileSink('f', cfg({ path, compression: 'gzip' }));
      await s.send([ev(3)], signal);
      await s.close();
      expect(readFileSync(path).subarray(0, whole.length).equals(whole)).toBe(true);
      expect(bodies(path)).toEqual([1, 2, 3].map((i) => ev(i).body));
    });

    it('leaves a file it cannot read as gzip alone', async () => {
      const path = join(dir, 'a.ndjson.gz');
      const foreign = Buffer.from('not gzip at all \u001f\u008b');
      writeFileSync(path, foreign);
      const s = createFileSink('f', cfg({ path, compression: 'gzip' }));
      await s.send([ev(1)], signal);
      await s.close();
      const after = readFileSync(path);
      expect(after.subarray(0, foreign.length).equals(foreign)).toBe(true);
      expect(gunzipSync(after.subarray(foreign.length)).toString()).toBe(`${ev(1).body}\n`);
    });
  });
});
