/** `auditshipper validate` through the built CLI: good configs pass, broken ones say file:line:col and exit 1. */
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, writeConfig } from '../helpers/agent.js';

const good = `
data_dir: /tmp/x
sources:
  retool:
    type: file
    include: ["/var/log/pods/*_retool-*/backend/*.log"]
    format: cri
sinks:
  archive:
    type: file
    path: /tmp/audit/%Y-%m-%d/{{product}}.ndjson
routes:
  - name: everything
    to: [archive]
`;

describe('auditshipper validate', () => {
  it('accepts the shipped configs', () => {
    for (const f of ['config/default.yaml', 'config/example.yaml']) {
      const r = runCli(['validate', '-c', f], {
        env: { DD_API_KEY: 'k'.repeat(32), SPLUNK_HEC_TOKEN: 't', AUDIT_HMAC_KEY: 'h'.repeat(32) },
      });
      expect(r.stderr, f).not.toMatch(/error|invalid/i);
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  it('accepts a valid file', () => {
    const dir = tempDir();
    const r = runCli(['validate', '-c', writeConfig(dir, good)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok \(1 sources, 1 sinks, 1 routes\)/);
  });

  const broken: [string, string, RegExp][] = [
    ['yaml syntax', good.replace('format: cri', 'format: [cri'), /:\d+:\d+: /],
    [
      'unknown key with suggestion',
      good.replace('format: cri', 'formt: cri'),
      /:7:5: unknown key "formt".*did you mean "format"/,
    ],
    ['bad enum', good.replace('format: cri', 'format: xml'), /:7:13: sources\.retool\.format/],
    [
      'unknown sink type',
      good.replace('type: file\n    path', 'type: kafka\n    path'),
      /:10:11: sinks\.archive\.type: unknown type "kafka": Expected 'file'/,
    ],
    [
      'bad size',
      good.replace('format: cri', 'format: cri\n    max_line_bytes: huge'),
      /:8:21: .*invalid size/,
    ],
    [
      'route to unknown sink',
      good.replace('to: [archive]', 'to: [archiv]'),
      /:14:10: unknown sink "archiv" \(did you mean "archive"\?\)/,
    ],
    [
      'missing env var',
      good.replace('/tmp/x', '${AUDITSHIPPER_TEST_UNSET_VAR}'),
      /:2:11: environment variable AUDITSHIPPER_TEST_UNSET_VAR is not set/,
    ],
    [
      'no sources',
      good.replace(/sources:[\s\S]*?sinks:/, 'sources: {}\nsinks:'),
      /:\d+:\d+: .*at least one source/,
    ],
  ];
  for (const [name, text, expected] of broken) {
    it(`rejects ${name} with file:line:col and exit 1`, () => {
      const dir = tempDir();
      const path = writeConfig(dir, text);
      const r = runCli(['validate', '-c', path]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(path + ':');
      expect(r.stderr).toMatch(expected);
    });
  }

  it('exits 2 on usage errors', () => {
    expect(runCli(['frobnicate']).code).toBe(2);
    expect(runCli(['validate', '--nope']).code).toBe(2);
  });

  it('reports a missing file', () => {
    const r = runCli(['validate', '-c', '/nonexistent/auditshipper.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      '/nonexistent/auditshipper.yaml:1:1: cannot read config file (ENOENT)',
    );
  });
});
