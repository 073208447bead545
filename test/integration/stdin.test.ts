/** The stdin source through the built CLI: read to EOF, deliver everything, exit 0. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNdjsonTree, startCli, tempDir, writeConfig } from '../helpers/agent.js';
import { appLogLine, garbageLine, retoolAuditLine, rng } from '../helpers/workload.js';

describe('stdin source (integration)', () => {
  it('reads until EOF, drains to the sinks and exits 0', async () => {
    const dir = tempDir();
    const cfg = writeConfig(
      dir,
      `data_dir: ${join(dir, 'data')}
log: { level: warn }
api: { enabled: false }
sources:
  pipe: { type: stdin, format: json }
sinks:
  archive:
    type: file
    path: ${join(dir, 'out')}/{{product}}.ndjson
    batch: { timeout: 5s }
routes:
  - name: all
    to: [archive]
`,
    );
    const r = rng(21);
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      lines.push(
        i % 3 === 0 ? appLogLine(i) : i % 101 === 0 ? garbageLine(i) : retoolAuditLine(i, r),
      );
    }
    const audit = lines.filter(
      (l) => l.includes('"actionType"') && !l.startsWith('{"unterminated'),
    ).length;
    // The last line has no newline: at EOF it still counts for stdin.
    const agent = startCli(['run', '-c', cfg], { stdin: lines.join('\n') });
    const ex = await agent.exited;
    expect(ex.code, agent.stderr()).toBe(0);
    const out = readNdjsonTree(join(dir, 'out'));
    expect(new Set(out.map((e) => e.app_event_id)).size).toBe(audit);
    expect(out.length).toBe(audit);
  }, 60_000);
});
