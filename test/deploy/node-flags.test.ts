/**
 * Every shipped way to run the agent bounds V8's old space the same way, and the benchmark
 * runs the agent with those flags: the published memory figures are the deployed agent's.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_ARGS } from '../../bench/shipper.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

describe('Node flags of the shipped agent', () => {
  it('bounds the old space and the young generation', () => {
    expect(AGENT_NODE_ARGS).toMatch(/^--max-old-space-size=\d+ --max-semi-space-size=\d+$/);
  });

  it('npm start, the Dockerfile and the systemd unit all use the bench flags', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts
      .start!;
    expect(start).toContain(`node ${AGENT_NODE_ARGS} dist/cli/main.js run`);
    expect(read('Dockerfile')).toMatch(new RegExp(`^ENV NODE_OPTIONS="${AGENT_NODE_ARGS}"$`, 'm'));
    expect(read('deploy/systemd/auditshipper.service')).toMatch(
      new RegExp(`^Environment="NODE_OPTIONS=${AGENT_NODE_ARGS}"$`, 'm'),
    );
  });
});

describe('the flags themselves', () => {
  it('are accepted in NODE_OPTIONS by this Node and bound the heap', () => {
    const out = execFileSync(
      process.execPath,
      ['-e', 'console.log(require("v8").getHeapStatistics().heap_size_limit)'],
      { env: { ...process.env, NODE_OPTIONS: AGENT_NODE_ARGS }, encoding: 'utf8' },
    );
    expect(Number(out) / 2 ** 20).toBeLessThan(512);
  });
});
