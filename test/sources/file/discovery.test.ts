import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileMatcher, isNeverRead, scanFiles } from '../../../src/sources/file/discovery.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

describe('isNeverRead', () => {
  it('matches .gz and .tmp only', () => {
    expect(isNeverRead('/a/0.log.20240101-000000.gz')).toBe(true);
    expect(isNeverRead('/a/0.log.20240101-000000.tmp')).toBe(true);
    expect(isNeverRead('/a/0.log.GZ')).toBe(true);
    expect(isNeverRead('/a/0.log.20240101-000000')).toBe(false);
    expect(isNeverRead('/a/gz.log')).toBe(false);
  });
});

describe('compileMatcher', () => {
  it('derives watch bases and depths from the globs', () => {
    const m = compileMatcher([
      '/var/log/pods/*_retool-*/backend/*.log',
      '/var/log/app.log',
      '/srv/**/*.log',
      '/var/log/pods/x/*.log',
      '/var/log/pods/*/*/*.log',
      '/srv/a/b/*.log',
      '/opt/{a,b}/*.log',
    ]);
    // Nested and duplicate bases are watched once, by the base that covers them.
    expect(m.bases).toEqual([
      { dir: '/var/log/pods', depth: 2 },
      { dir: '/var/log', depth: 0 },
      { dir: '/srv', depth: undefined },
      { dir: '/opt', depth: 1 },
    ]);
  });

  it('applies include, exclude (file-name patterns) and never reads .gz/.tmp', () => {
    const m = compileMatcher(['/var/log/pods/*/*/*.log*'], ['*.1', '/var/log/pods/skip_*/**']);
    expect(m.accepts('/var/log/pods/ns_p_u/c/0.log')).toBe(true);
    expect(m.accepts('/var/log/pods/ns_p_u/c/0.log.20240101-000000')).toBe(true);
    expect(m.accepts('/var/log/pods/ns_p_u/c/0.log.20240101-000000.gz')).toBe(false);
    expect(m.accepts('/var/log/pods/ns_p_u/c/0.log.tmp')).toBe(false);
    expect(m.accepts('/var/log/pods/ns_p_u/c/0.log.1')).toBe(false);
    expect(m.accepts('/var/log/pods/skip_p_u/c/0.log')).toBe(false);
    expect(m.accepts('/var/log/pods/ns_p_u/0.log')).toBe(false);
  });

  it('resolves relative globs against the working directory', () => {
    const m = compileMatcher(['logs/*.log']);
    expect(m.accepts(path.resolve('logs/a.log'))).toBe(true);
  });
});

describe('scanFiles', () => {
  it('finds matching files at the right depth, follows symlinks, skips the rest', async () => {
    await mkdir(path.join(dir, 'pods/a/c'), { recursive: true });
    await mkdir(path.join(dir, 'pods/b/c/deeper'), { recursive: true });
    await writeFile(path.join(dir, 'pods/a/c/0.log'), 'x\n');
    await writeFile(path.join(dir, 'pods/a/c/0.log.gz'), 'x');
    await writeFile(path.join(dir, 'pods/a/c/notes.txt'), 'x');
    await writeFile(path.join(dir, 'pods/b/c/1.log'), '');
    await writeFile(path.join(dir, 'pods/b/c/deeper/2.log'), 'x\n');
    await mkdir(path.join(dir, 'links'));
    await symlink(path.join(dir, 'pods/a/c/0.log'), path.join(dir, 'links/a.log'));
    await symlink(path.join(dir, 'missing'), path.join(dir, 'links/dangling.log'));
    const m = compileMatcher([path.join(dir, 'pods/*/c/*.log*'), path.join(dir, 'links/*.log')]);
    const found = await scanFiles(m);
    expect([...found.keys()].map((p) => path.relative(dir, p)).sort()).toEqual([
      'links/a.log',
      'pods/a/c/0.log',
      'pods/b/c/1.log',
    ]);
    const a = found.get(path.join(dir, 'links/a.log'))!;
    const b = found.get(path.join(dir, 'pods/a/c/0.log'))!;
    expect([a.dev, a.ino]).toEqual([b.dev, b.ino]);
  });

  it('does not fail on a missing base directory', async () => {
    const m = compileMatcher([path.join(dir, 'nope/*/x.log')]);
    expect((await scanFiles(m)).size).toBe(0);
  });

  it('walks ** globs', async () => {
    await mkdir(path.join(dir, 'a/b/c'), { recursive: true });
    await writeFile(path.join(dir, 'a/b/c/deep.log'), '');
    const found = await scanFiles(compileMatcher([path.join(dir, '**/*.log')]));
    expect([...found.keys()]).toEqual([path.join(dir, 'a/b/c/deep.log')]);
  });
});
