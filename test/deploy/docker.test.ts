/**
 * The Dockerfile and .dockerignore, checked without a Docker engine: the properties the
 * image promises are read from the Dockerfile itself, the HEALTHCHECK command is run as
 * written against a real HTTP server and against the agent started with the image's
 * baked-in config, and the build context is checked to hold what the build copies.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFromText } from '../../src/config/index.js';
import { ROOT, runCli, startCli, tempDir, waitFor, writeConfig } from '../helpers/agent.js';
import { dockerIgnored, envOf, parseDockerfile, type Dockerfile } from './helpers/dockerfile.js';

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
const DATA_DIR = '/var/lib/auditshipper';
const CONFIG_PATH = '/etc/auditshipper/auditshipper.yaml';

/** Every property the image must have; each problem is one sentence. */
function imageProblems(df: Dockerfile): string[] {
  const p: string[] = [];
  if (df.stages.length < 2) return ['not multi-stage'];
  const build = df.stages[0]!;
  const final = df.stages.at(-1)!;
  if (!/^node:(\d+)[.\d]*-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/.test(final.base)) {
    p.push(`final base ${final.base} is not a Node slim image`);
  } else if (
    Number(/^node:(\d+)/.exec(final.base)![1]) % 2 !== 0 ||
    Number(/^node:(\d+)/.exec(final.base)![1]) < 20
  ) {
    p.push(`final base ${final.base} is not a Node LTS line (even, >= 20)`);
  }
  if (build.base !== final.base)
    p.push('build and runtime stages use different bases (native addon ABI)');

  const runs = (s: typeof build) =>
    s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.rest);
  const buildRuns = runs(build).join(' && ');
  if (!/apt-get install[^&]*\bpython3\b[^&]*\bmake\b[^&]*\bg\+\+/.test(buildRuns))
    p.push('build stage lacks python3, make, g++');
  const order = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((c) =>
    buildRuns.indexOf(c),
  );
  if (order.some((i) => i < 0) || !(order[0]! < order[1]! && order[1]! < order[2]!)) {
    p.push('build stage must run npm ci, npm run build, npm prune --omit=dev in that order');
  }

  for (const r of runs(final)) {
    if (/(apt-get|apk|yum|dnf)\b[^&]*\b(install|add)\b/.test(r))
      p.push(`final stage installs packages: ${r}`);
    if (/\bnpm\s+(ci|install|i)\b/.test(r)) p.push('final stage runs npm install');
  }
  if (final.instructions.some((i) => i.keyword === 'ADD')) p.push('final stage uses ADD');
  const allowedFromBuild = new Set(['package.json', 'node_modules', 'dist', 'config']);
  for (const c of final.instructions.filter((i) => i.keyword === 'COPY')) {
    const parts = c.rest.split(/\s+/);
    const sources = parts
      .slice(0, -1)
      .map((s) => posix.normalize(s.replace(/^\/src\//, '')).replace(/\/$/, ''));
    const from = c.flags.find((f) => f.startsWith('--from='))?.slice(7);
    if (from !== undefined && from !== build.name) p.push(`COPY from unexpected stage ${from}`);
    if (from !== undefined) {
      for (const s of sources)
        if (!allowedFromBuild.has(s)) p.push(`final stage copies ${s} from the build`);
    } else if (
      sources.join(' ') !== 'deploy/docker/auditshipper.yaml' ||
      parts.at(-1) !== CONFIG_PATH
    ) {
      p.push(`final stage copies ${sources.join(' ')} from the context`);
    }
  }

  const users = final.instructions.filter((i) => i.keyword === 'USER');
  const user = users.at(-1)?.rest ?? 'root';
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) p.push(`USER ${user} is not numeric uid:gid (runAsNonRoot cannot verify a name)`);
  else if (Number(m[1]) === 0 || Number(m[2] ?? 1) === 0) p.push('USER is root');

  const volumes = final.instructions
    .filter((i) => i.keyword === 'VOLUME')
    .flatMap((i) => i.exec ?? i.rest.split(/\s+/));
  if (!volumes.includes(DATA_DIR)) p.push(`no VOLUME ${DATA_DIR}`);

  if (envOf(final).get('AUDITSHIPPER_CONFIG') !== CONFIG_PATH)
    p.push('ENV AUDITSHIPPER_CONFIG not set');
  for (const [k] of envOf(final))
    if (/KEY|TOKEN|SECRET|PASSWORD/i.test(k)) p.push(`secret-looking ENV ${k}`);

  const hc = final.instructions.filter((i) => i.keyword === 'HEALTHCHECK');
  if (hc.length !== 1) p.push('exactly one HEALTHCHECK expected');
  else if (hc[0]!.exec?.[0] !== 'node' || !hc[0]!.exec.join(' ').includes('/healthz')) {
    p.push('HEALTHCHECK must use node to GET /healthz');
  }
  if (/\b(curl|wget)\b/.test(final.instructions.map((i) => i.rest).join('\n')))
    p.push('final stage uses curl/wget');

  const entry = final.instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
  if (!entry?.exec || entry.exec[0] !== 'node')
    p.push('ENTRYPOINT must be exec form starting with node (PID 1 gets SIGTERM)');
  const stop =
    final.instructions.filter((i) => i.keyword === 'STOPSIGNAL').at(-1)?.rest ?? 'SIGTERM';
  if (stop !== 'SIGTERM') p.push(`STOPSIGNAL ${stop}: the agent drains on SIGTERM`);
  return p;
}

/** Where each COPY lands, resolved against WORKDIR, in the final stage. */
function finalLayout(df: Dockerfile): Map<string, string> {
  const out = new Map<string, string>();
  let wd = '/';
  for (const i of df.stages.at(-1)!.instructions) {
    if (i.keyword === 'WORKDIR') wd = posix.resolve(wd, i.rest);
    if (i.keyword === 'COPY') {
      const parts = i.rest.split(/\s+/);
      const src = posix.basename(parts[0]!.replace(/\/$/, ''));
      out.set(src, posix.resolve(wd, parts.at(-1)!));
    }
  }
  return out;
}

const df = parseDockerfile(DOCKERFILE);

describe('Dockerfile reader (guards the checks below)', () => {
  it('joins continuations, drops comments between them and reads exec forms', () => {
    const d = parseDockerfile(
      '# syntax=docker/dockerfile:1\nARG B=node:22-bookworm-slim\nFROM ${B} AS build\nRUN a \\\n# note\n&& b\nFROM $B\nCMD ["run"]\n',
    );
    expect(d.stages.map((s) => [s.base, s.name])).toEqual([
      ['node:22-bookworm-slim', 'build'],
      ['node:22-bookworm-slim', undefined],
    ]);
    expect(d.stages[0]!.instructions[0]!.rest).toBe('a && b');
    expect(d.stages[1]!.instructions[0]!.exec).toEqual(['run']);
  });

  it('rejects what Docker would reject', () => {
    expect(() => parseDockerfile('RUN x\nFROM a\n')).toThrow(/before FROM/);
    expect(() => parseDockerfile('FROM a\nRUNN x\n')).toThrow(/unknown instruction/);
    expect(() => parseDockerfile('FROM ${NOPE}\n')).toThrow(/no default/);
  });

  it('flags a final stage with compilers, a root user, no volume or a shell-form entrypoint', () => {
    const bad = DOCKERFILE.replace('USER 10001:10001', 'USER root')
      .replace('VOLUME ["/var/lib/auditshipper"]', '')
      .replace(
        'ENTRYPOINT ["node", "/opt/auditshipper/dist/cli/main.js"]',
        'ENTRYPOINT node /opt/auditshipper/dist/cli/main.js',
      )
      .replace(
        'WORKDIR /opt/auditshipper',
        'RUN apt-get update && apt-get install -y g++ curl\nWORKDIR /opt/auditshipper',
      );
    const p = imageProblems(parseDockerfile(bad)).join('\n');
    expect(p).toMatch(/USER root is not numeric/);
    expect(p).toMatch(/no VOLUME/);
    expect(p).toMatch(/ENTRYPOINT must be exec form/);
    expect(p).toMatch(/final stage installs packages/);
    expect(p).toMatch(/curl/);
  });
});

describe('Dockerfile', () => {
  it('has every property the image promises', () => {
    expect(imageProblems(df)).toEqual([]);
  });

  it('starts the CLI that the build produced, from where the final stage put it', () => {
    const layout = finalLayout(df);
    const entry = df.stages
      .at(-1)!
      .instructions.filter((i) => i.keyword === 'ENTRYPOINT')
      .at(-1)!.exec!;
    expect(entry[1]).toBe(posix.join(layout.get('dist')!, 'cli', 'main.js'));
    expect(posix.dirname(layout.get('node_modules')!)).toBe(posix.dirname(layout.get('dist')!));
    expect(layout.get('package.json')).toBe(
      posix.join(posix.dirname(layout.get('dist')!), 'package.json'),
    );
    expect(existsSync(join(ROOT, 'dist', 'cli', 'main.js'))).toBe(true);
    const cmd = df.stages
      .at(-1)!
      .instructions.filter((i) => i.keyword === 'CMD')
      .at(-1)!.exec;
    expect(cmd).toEqual(['run']);
  });

  it('bakes in a valid config whose data_dir is the volume and whose API the HEALTHCHECK reaches', () => {
    const text = readFileSync(join(ROOT, 'deploy', 'docker', 'auditshipper.yaml'), 'utf8');
    const { config } = loadConfigFromText(text, 'deploy/docker/auditshipper.yaml', {
      env: {},
      readFile: () => '',
    });
    expect(config.data_dir).toBe(DATA_DIR);
    expect(config.api.listen).toBe('0.0.0.0:9880');
    const r = runCli(['validate', '-c', join(ROOT, 'deploy', 'docker', 'auditshipper.yaml')]);
    expect(r.code).toBe(0);
  });

  it('the build context holds every file the build copies and none of the local state', () => {
    const contextSources = df.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.flags.some((f) => f.startsWith('--from=')))
      .flatMap((i) => i.rest.split(/\s+/).slice(0, -1));
    expect(contextSources.length).toBeGreaterThan(0);
    const files = (p: string): string[] =>
      statSync(join(ROOT, p)).isDirectory()
        ? readdirSync(join(ROOT, p)).flatMap((n) => files(posix.join(p, n)))
        : [p];
    for (const src of contextSources) {
      for (const f of files(src.replace(/\/$/, '')))
        expect(dockerIgnored(DOCKERIGNORE, f), f).toBe(false);
    }
    for (const f of [
      'node_modules/zod/package.json',
      'dist/cli/main.js',
      '.git/HEAD',
      '.auditshipper/data/buffer.db',
      'test/deploy/docker.test.ts',
      '.env',
      'deploy/kubernetes/sidecar.yaml',
      'bench/run.js',
    ]) {
      expect(dockerIgnored(DOCKERIGNORE, f), f).toBe(true);
    }
  });
});

describe('HEALTHCHECK command', () => {
  const argv = df.stages.at(-1)!.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.exec!;
  const run = (url: string) =>
    new Promise<number | null>((resolve) => {
      // `node` in the image; this test's node here. The URL override is the one the
      // Dockerfile documents (AUDITSHIPPER_HEALTHCHECK_URL).
      const child = spawn(process.execPath, argv.slice(1), {
        env: { ...process.env, AUDITSHIPPER_HEALTHCHECK_URL: url },
        stdio: 'ignore',
      });
      child.on('exit', (code) => resolve(code));
    });

  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 503).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('exits 0 on 200, 1 on 503 and 1 when nothing listens', async () => {
    expect(await run(`${base}/healthz`)).toBe(0);
    expect(await run(`${base}/unhealthy`)).toBe(1);
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    expect(await run(`http://127.0.0.1:${port}/healthz`)).toBe(1);
  });

  it('passes against the agent running the baked-in config, which writes only to data_dir', async () => {
    const dir = tempDir('as-docker-');
    const cwd = join(dir, 'cwd');
    const home = join(dir, 'home');
    for (const d of [cwd, home]) mkdirSync(d);
    // The image's config with its container paths moved into the temp dir and an
    // ephemeral port: everything else exactly as baked in.
    const text = readFileSync(join(ROOT, 'deploy', 'docker', 'auditshipper.yaml'), 'utf8')
      .replace(`data_dir: ${DATA_DIR}`, `data_dir: ${join(dir, 'data')}`)
      .replace('listen: 0.0.0.0:9880', 'listen: 127.0.0.1:0');
    const config = writeConfig(dir, text);
    const agent = startCli(['run'], { cwd, env: { AUDITSHIPPER_CONFIG: config, HOME: home } });
    try {
      const port = await waitFor('api listening', () => {
        for (const l of agent.stderr().split('\n')) {
          if (!l.includes('api listening')) continue;
          return (JSON.parse(l) as { port: number }).port;
        }
        return undefined;
      });
      expect(await run(`http://127.0.0.1:${port}/healthz`)).toBe(0);
      await waitFor('a demo event on stdout', () => agent.stdout().includes('"product":"retool"'));
    } finally {
      agent.child.kill('SIGTERM');
    }
    const { code } = await agent.exited;
    expect(code).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(home)).toEqual([]);
    expect(readdirSync(join(dir, 'data'))).toContain('buffer.db');
  });
});
