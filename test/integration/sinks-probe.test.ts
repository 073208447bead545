/**
 * `auditshipper probe` as an operator runs it: the built CLI against a fake SIEM on
 * 127.0.0.1, checking the exit codes of the CLI contract (0 ok, 1 config, 2 usage, 3 failure),
 * that the test event is the one marked event the receiver sees, and that the buffer is
 * never created.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, tempDir, writeConfig } from '../helpers/agent.js';
import { startGenericReceiver, type GenericReceiver } from '../helpers/receivers/index.js';

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = startCli(args, { env });
  const ex = await r.exited;
  return { code: ex.code, stdout: r.stdout(), stderr: r.stderr() };
}

describe('auditshipper probe (built CLI)', () => {
  let siem: GenericReceiver;
  let dir: string;
  let cfg: string;
  const TOKEN = 'probe-cli-token-0123456789abcdef';

  beforeAll(async () => {
    siem = await startGenericReceiver({ auth: { bearer: TOKEN } });
    dir = tempDir('as-probe-cli-');
    cfg = writeConfig(
      dir,
      `
data_dir: ${join(dir, 'data')}
log: { level: warn }
api: { enabled: false }
sources:
  app: { type: file, include: ["${join(dir, 'logs')}/*.log"] }
sinks:
  siem:
    type: http
    url: ${siem.url}/ingest
    auth: { strategy: bearer, token: "\${SIEM_TOKEN}" }
    request: { timeout: 3s }
  archive: { type: file, path: ${join(dir, 'out.ndjson')} }
`,
    );
  });
  afterAll(() => siem.close());

  it('exit 0 on acceptance, 3 on refusal, 2 for an unknown sink, 1 for a bad config', async () => {
    const [ok, refused, unknown, bad] = await Promise.all([
      cli(['probe', '-c', cfg, 'siem'], { SIEM_TOKEN: TOKEN }),
      cli(['probe', '-c', cfg, 'siem', '--json'], { SIEM_TOKEN: 'wrong-token-value' }),
      cli(['probe', '-c', cfg, 'splunk'], { SIEM_TOKEN: TOKEN }),
      cli(['probe', '-c', cfg, 'siem'], {}), // ${SIEM_TOKEN} unset: invalid config
    ]);

    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /^probe: http sink "siem", test event [0-9a-f]{32} \(action auditshipper\.probe\)$/m,
    );
    expect(ok.stdout).toMatch(/^result: ok, accepted by the receiver in [\d.]+ ms$/m);
    const probes = siem.received.filter((e) => e.action === 'auditshipper.probe');
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ product: 'auditshipper', detail: { probe: true } });

    expect(refused.code).toBe(3);
    const r = JSON.parse(refused.stdout) as Record<string, unknown>;
    expect(r).toMatchObject({ sink: 'siem', ok: false, verdict: 'unhealthy', status: 401 });

    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown sink "splunk"; configured sinks: siem, archive/);

    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/SIEM_TOKEN/);

    for (const x of [ok, refused, unknown, bad]) expect(x.stdout + x.stderr).not.toContain(TOKEN);
    // A probe never opens (or creates) the buffer.
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});
