import { describe, expect, it } from 'vitest';
import { fileSourceSchema, stdinSourceSchema } from '../../src/sources/config.js';

describe('fileSourceSchema', () => {
  it('fills defaults', () => {
    expect(fileSourceSchema.parse({ type: 'file', include: ['/var/log/pods/*/*/*.log'] })).toEqual({
      type: 'file',
      include: ['/var/log/pods/*/*/*.log'],
      format: 'auto',
      profile: 'auto',
      read_from: 'beginning',
      max_line_bytes: 1024 * 1024,
      oversized_lines: 'truncate',
      rescan_interval: 1000,
      partial_timeout: 5000,
    });
  });

  it('parses units and explicit values', () => {
    const cfg = fileSourceSchema.parse({
      type: 'file',
      include: ['/a/*.log'],
      exclude: ['*.1'],
      format: 'cri',
      profile: 'retool',
      read_from: 'end',
      max_line_bytes: '64KiB',
      oversized_lines: 'skip',
      rescan_interval: '250ms',
      partial_timeout: '30s',
      ignore_older: '7d',
    });
    expect(cfg.max_line_bytes).toBe(65536);
    expect(cfg.rescan_interval).toBe(250);
    expect(cfg.partial_timeout).toBe(30_000);
    expect(cfg.ignore_older).toBe(7 * 86_400_000);
    expect(cfg.exclude).toEqual(['*.1']);
  });

  it.each([
    [{ include: [] }, 'include'],
    [{}, 'include'],
    [{ include: [''] }, 'include'],
    [{ include: ['!/a/*.log'] }, 'include'],
    [{ include: ['/a'], format: 'xml' }, 'format'],
    [{ include: ['/a'], read_from: 'middle' }, 'read_from'],
    [{ include: ['/a'], max_line_bytes: '12 parsecs' }, 'max_line_bytes'],
    [{ include: ['/a'], max_line_bytes: 10 }, 'max_line_bytes'],
    [{ include: ['/a'], max_line_bytes: '1GiB' }, 'max_line_bytes'],
    [{ include: ['/a'], oversized_lines: 'drop' }, 'oversized_lines'],
    [{ include: ['/a'], rescan_interval: 'soon' }, 'rescan_interval'],
    [{ include: ['/a'], rescan_interval: '1ms' }, 'rescan_interval'],
    [{ include: ['/a'], partial_timeout: '0s' }, 'partial_timeout'],
    [{ include: ['/a'], ignore_older: 'old' }, 'ignore_older'],
    [{ include: ['/a'], includes: ['/b'] }, ''],
  ])('rejects %j', (extra, key) => {
    const r = fileSourceSchema.safeParse({ type: 'file', ...extra });
    expect(r.success).toBe(false);
    if (key) expect(r.error!.issues.map((i) => i.path[0])).toContain(key);
    else expect(r.error!.issues[0]!.code).toBe('unrecognized_keys');
  });
});

describe('stdinSourceSchema', () => {
  it('fills defaults', () => {
    expect(stdinSourceSchema.parse({ type: 'stdin' })).toEqual({
      type: 'stdin',
      format: 'json',
      profile: 'auto',
      max_line_bytes: 1024 * 1024,
      oversized_lines: 'truncate',
    });
  });

  it('rejects unknown keys and bad values', () => {
    expect(stdinSourceSchema.safeParse({ type: 'stdin', include: ['/a'] }).success).toBe(false);
    expect(stdinSourceSchema.safeParse({ type: 'stdin', format: 'yaml' }).success).toBe(false);
    expect(stdinSourceSchema.safeParse({ type: 'stdin', max_line_bytes: '-1' }).success).toBe(
      false,
    );
  });
});
