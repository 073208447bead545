/** `auditshipper test` and `auditshipper route --explain` through the built CLI. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, writeConfig } from '../helpers/agent.js';

const env = { DD_API_KEY: 'k'.repeat(32), SPLUNK_HEC_TOKEN: 't', AUDIT_HMAC_KEY: 'h'.repeat(32) };

const config = `
data_dir: /tmp/unused
sources:
  app: { type: file, include: ["/tmp/none/*.log"], format: json }
redaction:
  hash: { key: "0123456789abcdef0123", key_id: v7, paths: ["actor.email"] }
sinks:
  sec: { type: file, path: /tmp/unused/sec.ndjson }
  all: { type: file, path: /tmp/unused/all.ndjson }
routes:
  - name: security
    when: { severity: { gte: warn } }
    to: [sec]
  - name: everything
    to: [all]
`;

const line = (o: Record<string, unknown>) => JSON.stringify(JSON.stringify(o));
const login = line({
  id: 1,
  userId: 3,
  actionType: 'LOGIN',
  userEmail: 'ana@example.com',
  createdAt: '2026-11-21T10:00:00Z',
});
const del = line({
  id: 2,
  userId: 3,
  actionType: 'DELETE_RESOURCE',
  createdAt: '2026-11-21T10:00:00Z',
  metadata: { databasePassword: 'pw-123456' },
});

describe('auditshipper test', () => {
  it('passes the shipped example tests', () => {
    const r = runCli(['test', '-c', 'config/example.yaml', 'config/example.tests.yaml'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^3 passed, 0 failed$/m);
  });

  it('reports each failing expectation with a clear diff and exits 1', () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, config);
    const tests = writeConfig(
      dir,
      `tests:
  - name: login is info and goes to all only
    input: ${login}
    expect:
      sinks: [all]
      fields: { severity: info, actor.email: { regex: "^hmac:v7:[0-9a-f]{32}$" } }
  - name: wrong expectations
    input: ${del}
    expect:
      sinks: [all]
      routes: [everything]
      fields: { severity: info, detail.metadata.databasePassword: pw-123456, target.id: { exists: true } }
      absent: ["pw-123456"]
  - name: wrong result kind
    input: '{"level":"info","msg":"hello"}'
    expect: { result: audit }
`,
      'tests.yaml',
    );
    const r = runCli(['test', '-c', cfg, tests]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('ok    login is info and goes to all only');
    expect(r.stdout).toContain('FAIL  wrong expectations');
    expect(r.stdout).toContain('sinks: expected ["all"], got ["sec","all"]');
    expect(r.stdout).toContain('routes: expected ["everything"], got ["security","everything"]');
    expect(r.stdout).toContain('fields.severity: expected "info", got "critical"');
    expect(r.stdout).toContain(
      'fields.detail.metadata.databasePassword: expected "pw-123456", got "[REDACTED]"',
    );
    expect(r.stdout).toContain('fields.target.id: expected present, got null');
    expect(r.stdout).toContain('result: expected audit, got non_audit');
    expect(r.stdout).toMatch(/^1 passed, 2 failed$/m);
    // the redacted secret is not what fails `absent`: it is gone
    expect(r.stdout).not.toContain('forbidden string');
  });

  it('flags a planted secret that survives redaction, without printing it', () => {
    const dir = tempDir();
    const cfg = writeConfig(
      dir,
      config
        .replace('hash:', 'detectors: { email: keep }\n  hash:')
        .replace('paths: ["actor.email"]', 'paths: []'),
    );
    const tests = writeConfig(
      dir,
      `tests:\n  - name: e-mail kept\n    input: ${login}\n    expect:\n      absent: ["ana@example.com"]\n`,
      't.yaml',
    );
    const r = runCli(['test', '-c', cfg, tests]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('absent: a forbidden string (15 chars) appears in the event');
    expect(r.stdout).not.toContain('ana@example.com');
  });

  it('rejects a malformed tests file with file:line:col', () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, config);
    const tests = writeConfig(dir, 'tests:\n  - name: x\n    inptu: "{}"\n', 't.yaml');
    const r = runCli(['test', '-c', cfg, tests]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${tests}:3:5: unknown key "inptu"`);
  });

  it('exits 2 without a tests file', () => {
    expect(runCli(['test', '-c', 'config/default.yaml']).code).toBe(2);
  });
});

describe('auditshipper route --explain', () => {
  it('prints the redacted event, the sinks, and why each route matched or not', () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, config);
    const input =
      [
        JSON.parse(login) as string,
        JSON.parse(del) as string,
        '{"msg":"plain log"}',
        '{"actionType": broken',
      ].join('\n') + '\n';
    const r = runCli(['route', '-c', cfg, '-', '--explain'], { input });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/line 1: retool LOGIN \(info\) → sinks: all via routes: everything/);
    expect(r.stdout).toMatch(
      /line 2: retool DELETE_RESOURCE \(critical\) → sinks: sec, all via routes: security, everything/,
    );
    expect(r.stdout).toMatch(/severity/);
    expect(r.stdout).toContain('line 3: not an audit event');
    expect(r.stdout).toMatch(/line 4: malformed/);
    expect(r.stdout).not.toContain('pw-123456');
    expect(r.stdout).not.toContain('ana@example.com');
    const json = runCli(['route', '-c', cfg, '--json'], { input });
    const first = JSON.parse(json.stdout.split('\n')[0]!);
    expect(first).toMatchObject({
      line: 1,
      result: 'audit',
      sinks: ['all'],
      routes: ['everything'],
    });
    expect(first.event.actor.email).toMatch(/^hmac:v7:/);
    expect(join('a', 'b')).toBe('a/b');
  });
});
