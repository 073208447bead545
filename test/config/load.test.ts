import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, interpolate, loadConfigText, parseYaml } from '../../src/config/load.js';
import { zDuration, zSize } from '../../src/config/zod-units.js';

const schema = z.strictObject({
  data_dir: z.string().default('/var/lib/x'),
  buffer: z
    .strictObject({ max_bytes: zSize.prefault('1GiB'), flush: zDuration.prefault('1s') })
    .prefault({}),
  sinks: z.record(
    z.string(),
    z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('file'), path: z.string() }),
      z.strictObject({
        type: z.literal('datadog'),
        api_key: z.string().min(10),
        site: z.string().default('datadoghq.com'),
      }),
    ]),
  ),
});

const env = (vars: Record<string, string>, files: Record<string, string> = {}) => ({
  env: vars,
  readFile: (p: string) => {
    if (p in files) return files[p]!;
    throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  },
});

function issuesOf(text: string, e = env({})) {
  try {
    loadConfigText(text, 'cfg.yaml', schema, { env: e });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected the config to be rejected');
}

describe('loadConfigText', () => {
  it('accepts a valid config and applies defaults and units', () => {
    const { config } = loadConfigText(
      'sinks:\n  a: { type: file, path: /tmp/x }\nbuffer:\n  max_bytes: 64KiB\n',
      'c.yaml',
      schema,
    );
    expect(config.buffer.max_bytes).toBe(65536);
    expect(config.buffer.flush).toBe(1000);
    expect(config.data_dir).toBe('/var/lib/x');
  });

  it('reports YAML syntax errors with line and column', () => {
    const issues = issuesOf('sinks:\n  a: { type: file, path: /tmp/x\n');
    expect(issues[0]!.file).toBe('cfg.yaml');
    expect(issues[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it('reports duplicate keys', () => {
    const issues = issuesOf('data_dir: /a\ndata_dir: /b\nsinks: {}\n');
    expect(issues[0]!.line).toBe(2);
  });

  it('points a type error at the offending value', () => {
    const issues = issuesOf('sinks:\n  a:\n    type: file\n    path: 42\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 4, col: 11 });
    expect(issues[0]!.message).toContain('sinks.a.path');
  });

  it('points an unknown key at the key and suggests the close one', () => {
    const issues = issuesOf('sinks:\n  a:\n    type: file\n    paht: /x\n');
    const unknown = issues.find((i) => i.message.includes('unknown key'))!;
    expect(unknown).toMatchObject({ line: 4, col: 5 });
    expect(unknown.message).toContain('did you mean "path"?');
  });

  it('suggests keys of the right union member (by type)', () => {
    const issues = issuesOf(
      'sinks:\n  dd:\n    type: datadog\n    api_key: "0123456789"\n    sitee: x\n',
    );
    expect(issues[0]!.message).toContain('did you mean "site"?');
    expect(issues[0]!.line).toBe(5);
  });

  it('rejects unknown top-level keys', () => {
    const issues = issuesOf('sinks: {}\nbufer: {}\n');
    expect(issues[0]).toMatchObject({ line: 2, col: 1 });
    expect(issues[0]!.message).toContain('did you mean "buffer"?');
  });

  it('reports bad durations and sizes at their position', () => {
    const issues = issuesOf('sinks: {}\nbuffer:\n  max_bytes: lots\n  flush: 5 minutes\n');
    expect(issues.map((i) => i.line)).toEqual([3, 4]);
    expect(issues[0]!.message).toMatch(/invalid size/);
    expect(issues[1]!.message).toMatch(/invalid duration/);
  });

  it('names a missing environment variable, at the line that uses it', () => {
    const issues = issuesOf('sinks:\n  dd:\n    type: datadog\n    api_key: ${DD_API_KEY}\n');
    expect(issues[0]).toMatchObject({
      line: 4,
      message: 'environment variable DD_API_KEY is not set',
    });
  });

  it('never shows an interpolated secret in a validation error', () => {
    const secret = 'shortkey'; // fails min(10)
    const issues = issuesOf(
      'sinks:\n  dd:\n    type: datadog\n    api_key: ${DD_API_KEY}\n',
      env({ DD_API_KEY: secret }),
    );
    expect(issues[0]!.line).toBe(4);
    expect(JSON.stringify(issues)).not.toContain(secret);
    expect(issues[0]!.message).toContain('interpolated secret');
  });

  it('reads ${file:...} secrets, trimming the final newline', () => {
    const { config } = loadConfigText(
      'sinks:\n  dd:\n    type: datadog\n    api_key: ${file:/run/secrets/dd}\n',
      'c.yaml',
      schema,
      { env: env({}, { '/run/secrets/dd': 'abcdefghijkl\n' }) },
    );
    expect(config.sinks.dd).toMatchObject({ api_key: 'abcdefghijkl' });
  });

  it('reports an unreadable secret file without any content', () => {
    const issues = issuesOf(
      'sinks:\n  dd:\n    type: datadog\n    api_key: ${file:/run/secrets/missing}\n',
    );
    expect(issues[0]!.message).toBe('cannot read secret file /run/secrets/missing (ENOENT)');
  });

  it('runs semantic checks and maps their paths', () => {
    try {
      loadConfigText('sinks:\n  a: { type: file, path: /x }\n', 'c.yaml', schema, {
        check: () => ({
          errors: [{ path: ['sinks', 'a', 'path'], message: 'bad path' }],
          warnings: [],
        }),
      });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).issues[0]).toMatchObject({ line: 2, message: 'bad path' });
    }
  });
});

describe('interpolate', () => {
  const e = env({ A: 'x', EMPTY: '' });
  it('substitutes, defaults and escapes', () => {
    expect(interpolate('a-${A}-b', e)).toEqual({ value: 'a-x-b', used: true });
    expect(interpolate('${MISSING:-dflt}', e)).toEqual({ value: 'dflt', used: true });
    expect(interpolate('${EMPTY:-d}', e)).toEqual({ value: 'd', used: true });
    expect(interpolate('$${A}', e)).toEqual({ value: '${A}', used: false });
  });
  it('rejects malformed references', () => {
    expect(interpolate('${1BAD}', e)).toHaveProperty('error');
    expect(interpolate('${file:}', e)).toHaveProperty('error');
  });
});

describe('parseYaml', () => {
  it('maps paths to positions, falling back to the nearest parent', () => {
    const p = parseYaml('a:\n  b:\n    - x\n    - y\n', 'f', env({}));
    expect(p.map.at(['a', 'b', 1])).toEqual({ line: 4, col: 7 });
    expect(p.map.at(['a', 'zz'])).toEqual({ line: 2, col: 3 });
  });
});
