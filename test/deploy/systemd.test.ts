/**
 * deploy/systemd/: the units pass `systemd-analyze verify` (and its offline security
 * score) where systemd-analyze exists, carry the hardening they promise, and agree with
 * the config shipped beside them (deploy/systemd/auditshipper.yaml): every path the agent
 * writes is writable under ProtectSystem=strict, the logs it reads are visible, the drain
 * fits in TimeoutStopSec, and the config validates with the variables env.example
 * provides. The ACL helper script is run against a fake containers directory with a
 * recording stand-in for setfacl.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFromText } from '../../src/config/index.js';
import { parseDuration } from '../../src/config/units.js';
import { CLI, ROOT, runCli, tempDir } from '../helpers/agent.js';

const SYSTEMD = join(ROOT, 'deploy', 'systemd');
const read = (name: string) => readFileSync(join(SYSTEMD, name), 'utf8');
const UNIT_TEXT = read('auditshipper.service');
const ACL_UNIT_TEXT = read('auditshipper-docker-acl.service');
const ACL_PATH_TEXT = read('auditshipper-docker-acl.path');
const ACL_SCRIPT = join(SYSTEMD, 'auditshipper-docker-acl.sh');
const CONFIG_TEXT = read('auditshipper.yaml');
const ENV_EXAMPLE = read('env.example');

type Unit = Map<string, Map<string, string[]>>;

/** systemd unit syntax: [Section], Key=Value, repeated keys accumulate, `\` continues a line. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[([A-Za-z]+)\]$/.exec(line);
    if (s) {
      section = unit.get(s[1]!) ?? new Map();
      unit.set(s[1]!, section);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`line ${i + 1}: not a Key=Value in a section: ${line}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!.trim()]);
  }
  return unit;
}

const unit = parseUnit(UNIT_TEXT);
const service = unit.get('Service')!;
const all = (k: string) => service.get(k) ?? [];
const last = (k: string) => all(k).at(-1);
const yes = (k: string) => ['yes', 'true', '1', 'on'].includes(last(k) ?? '');

/** KEY=value lines of an environment file (comments and blanks skipped). */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** Environment= assignments: whitespace-separated, each optionally in double quotes. */
const unitEnv = Object.fromEntries(
  all('Environment')
    .flatMap((v) => [...v.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const),
);
const exampleEnv = parseEnvFile(ENV_EXAMPLE);
const { config } = loadConfigFromText(CONFIG_TEXT, 'deploy/systemd/auditshipper.yaml', {
  env: { ...exampleEnv, ...unitEnv },
  readFile: () => {
    throw Object.assign(new Error('no files'), { code: 'ENOENT' });
  },
});

/** `systemd-analyze` if this machine has it, with its version. */
const analyze = (() => {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return { version: Number(/systemd (\d+)/.exec(r.stdout)?.[1] ?? 0) };
})();

/**
 * Copies of the units that `systemd-analyze verify` can check here, side by side so their
 * references resolve: ExecStart= points at this machine's node and the built CLI, and at
 * the helper script in the checkout (verify insists binaries exist); everything else is
 * exactly as shipped.
 */
function verifiableCopies(units: Record<string, string> = {}): string[] {
  const dir = tempDir('as-systemd-');
  const texts: Record<string, string> = {
    'auditshipper.service': UNIT_TEXT,
    'auditshipper-docker-acl.service': ACL_UNIT_TEXT,
    'auditshipper-docker-acl.path': ACL_PATH_TEXT,
    ...units,
  };
  return Object.entries(texts).map(([name, text]) => {
    const file = join(dir, name);
    writeFileSync(
      file,
      text
        .replace(/^ExecStart=\S+ \S+main\.js/m, `ExecStart=${process.execPath} ${CLI}`)
        .replace(
          /^ExecStart=\/usr\/local\/libexec\/auditshipper-docker-acl/m,
          `ExecStart=${ACL_SCRIPT}`,
        ),
    );
    return file;
  });
}

/** Lines systemd-analyze printed about these unit files (warnings do not change its exit code). */
function verifyProblems(files: string[]): string[] {
  const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
  const names = files.map((f) => f.split('/').at(-1)!);
  const lines = `${r.stdout}\n${r.stderr}`
    .split('\n')
    .filter((l) => names.some((n) => l.includes(n)));
  return r.status === 0 ? lines : [`exit ${r.status}`, ...lines];
}

describe('deploy/systemd/auditshipper.service', () => {
  it('is a restart-always simple service that reloads on HUP', () => {
    expect(last('Type')).toBe('simple');
    expect(last('Restart')).toBe('always');
    expect(last('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(last('ExecStart')).toMatch(
      /^\/\S*node \/opt\/auditshipper\/\S+\/dist\/cli\/main\.js run$/,
    );
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('runs as a dedicated user with no capabilities, no extra group and no privilege gain', () => {
    expect(last('User')).toBe('auditshipper');
    expect(last('DynamicUser') ?? 'no').toBe('no');
    expect(last('CapabilityBoundingSet')).toBe('');
    expect(last('AmbientCapabilities')).toBe('');
    expect(last('SupplementaryGroups') ?? '').toBe('');
    expect(yes('NoNewPrivileges')).toBe(true);
  });

  it('starts after the ACL helper and keeps its path watcher running', () => {
    const u = unit.get('Unit')!;
    const words = (k: string) => (u.get(k) ?? []).flatMap((v) => v.split(/\s+/));
    expect(words('Wants')).toEqual(
      expect.arrayContaining(['auditshipper-docker-acl.service', 'auditshipper-docker-acl.path']),
    );
    expect(words('After')).toEqual(
      expect.arrayContaining(['auditshipper-docker-acl.service', 'docker.service']),
    );
  });

  it('carries the file-system and kernel hardening', () => {
    expect(last('ProtectSystem')).toBe('strict');
    for (const k of [
      'ProtectHome',
      'PrivateTmp',
      'PrivateDevices',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
      'ProtectControlGroups',
      'RestrictNamespaces',
      'RestrictSUIDSGID',
      'LockPersonality',
    ]) {
      expect(yes(k), k).toBe(true);
    }
    expect(last('RestrictAddressFamilies')).toBe('AF_INET AF_INET6 AF_UNIX');
    expect(all('SystemCallFilter')[0]).toBe('@system-service');
    // V8's JIT needs writable+executable memory: this setting would crash node at start.
    expect(yes('MemoryDenyWriteExecute')).toBe(false);
  });

  it('owns its state directory and reads secrets from an optional environment file', () => {
    expect(last('StateDirectory')).toBe('auditshipper');
    expect(last('ConfigurationDirectory')).toBe('auditshipper');
    expect(all('EnvironmentFile')).toEqual(['-/etc/auditshipper/env']);
    expect(unitEnv.AUDITSHIPPER_CONFIG).toBe('/etc/auditshipper/auditshipper.yaml');
  });

  it('gives the drain more time than shutdown_timeout', () => {
    const stop = parseDuration(last('TimeoutStopSec')!.replace(/sec$/, 's'));
    expect(stop).toBeGreaterThan(config.shutdown_timeout);
  });

  it('lets the agent write only where its config writes, and see the logs it reads read-only', () => {
    const writable = [
      ...all('StateDirectory').map((d) => `/var/lib/${d}`),
      ...all('LogsDirectory').map((d) => `/var/log/${d}`),
      ...all('ReadWritePaths'),
    ];
    const under = (p: string, roots: string[]) =>
      roots.some((r) => p === r || p.startsWith(r + '/'));
    expect(under(config.data_dir, writable)).toBe(true);
    for (const [name, s] of Object.entries(config.sinks)) {
      if (s.type === 'file') expect(under(s.path, writable), `sink ${name}`).toBe(true);
    }
    const readOnly = [...all('BindReadOnlyPaths'), ...all('ReadOnlyPaths')].flatMap((v) =>
      v.split(/\s+/),
    );
    expect(readOnly).toContain('/var/lib/docker/containers');
    for (const s of Object.values(config.sources)) {
      if (s.type !== 'file') continue;
      expect(s.format).toBe('docker');
      for (const g of s.include) expect(under(g, readOnly), g).toBe(true);
    }
  });

  it.skipIf(!analyze)('all three units pass `systemd-analyze verify` with nothing to say', () => {
    expect(verifyProblems(verifiableCopies())).toEqual([]);
  });

  it.skipIf(!analyze)('the verify check notices a misspelt key and a bad value', () => {
    const typo = verifyProblems(
      verifiableCopies({
        'auditshipper.service': UNIT_TEXT.replace('ProtectSystem=strict', 'ProtectSytem=strict'),
      }),
    );
    expect(typo.join('\n')).toMatch(/Unknown key/);
    const bad = verifyProblems(
      verifiableCopies({
        'auditshipper.service': UNIT_TEXT.replace('Restart=always', 'Restart=sometimes'),
      }),
    );
    expect(bad.join('\n')).toMatch(/restart/i);
  });

  it.skipIf(!analyze || analyze.version < 250)(
    'both services score an exposure of 2.0 or less in `systemd-analyze security`',
    () => {
      for (const file of verifiableCopies().filter((f) => f.endsWith('.service'))) {
        const r = spawnSync(
          'systemd-analyze',
          ['security', '--offline=true', '--threshold=20', '--no-pager', file],
          {
            encoding: 'utf8',
          },
        );
        const score = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1];
        const why = r.stdout
          .split('\n')
          .filter((l) => l.includes('✗'))
          .join('\n');
        expect(Number(score), `${file}\n${why}`).toBeLessThanOrEqual(2);
        expect(r.status, file).toBe(0);
      }
    },
  );

  if (!analyze)
    it.skip('systemd-analyze is not installed here: unit verification skipped', () => {});
});

describe('deploy/systemd/auditshipper-docker-acl.{service,path,sh}', () => {
  const acl = parseUnit(ACL_UNIT_TEXT).get('Service')!;
  const path = parseUnit(ACL_PATH_TEXT);

  it('the helper runs once per trigger with no capability and writes only ACLs of the log tree', () => {
    expect(acl.get('Type')).toEqual(['oneshot']);
    expect(acl.get('CapabilityBoundingSet')).toEqual(['']);
    expect(acl.get('ProtectSystem')).toEqual(['strict']);
    expect(acl.get('ReadWritePaths')).toEqual(['/var/lib/docker/containers']);
    expect(acl.get('PrivateNetwork')).toEqual(['yes']);
    expect(acl.get('RemainAfterExit') ?? ['no']).toEqual(['no']); // or the path unit could not re-run it
    expect(acl.get('ExecStart')).toEqual([
      '/usr/local/libexec/auditshipper-docker-acl auditshipper /var/lib/docker/containers',
    ]);
  });

  it('the path unit re-runs the helper when the containers directory changes', () => {
    expect(path.get('Path')?.get('PathChanged')).toEqual(['/var/lib/docker/containers']);
    expect(path.get('Path')?.get('Unit')).toEqual(['auditshipper-docker-acl.service']);
    expect(path.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  /** Run the script against a fake tree, with a setfacl that records its arguments. */
  function runScript(opts: { failSetfacl?: boolean; noRoot?: boolean } = {}) {
    const dir = tempDir('as-acl-');
    const bin = join(dir, 'bin');
    const root = join(dir, 'containers');
    const log = join(dir, 'calls');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'setfacl'),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n${opts.failSetfacl ? 'exit 1' : 'exit 0'}\n`,
    );
    chmodSync(join(bin, 'setfacl'), 0o755);
    if (!opts.noRoot) {
      for (const id of ['aaa', 'bbb']) {
        mkdirSync(join(root, id), { recursive: true, mode: 0o710 });
        for (const f of [
          `${id}-json.log`,
          `${id}-json.log.1`,
          'config.v2.json',
          'hostconfig.json',
          'hosts',
        ]) {
          writeFileSync(join(root, id, f), '');
        }
      }
      writeFileSync(join(root, 'not-a-dir'), '');
    }
    const r = spawnSync('sh', [ACL_SCRIPT, 'shipper', root], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return { code: r.status, calls: [...new Set(calls)].sort(), root };
  }

  it('grants list on the directories and read on the json logs, and never touches config.v2.json', () => {
    const { code, calls, root } = runScript();
    expect(code).toBe(0);
    expect(calls).toEqual(
      [
        `-m u:shipper:rx ${root}`,
        `-m u:shipper:rx -m d:u:shipper:r ${root}/aaa`,
        `-m u:shipper:rx -m d:u:shipper:r ${root}/bbb`,
        `-m u:shipper:r ${root}/aaa/aaa-json.log`,
        `-m u:shipper:r ${root}/aaa/aaa-json.log.1`,
        `-m u:shipper:r ${root}/bbb/bbb-json.log`,
        `-m u:shipper:r ${root}/bbb/bbb-json.log.1`,
      ].sort(),
    );
  });

  it('does nothing without a containers directory, and fails loudly when setfacl fails', () => {
    expect(runScript({ noRoot: true })).toMatchObject({ code: 0, calls: [] });
    expect(runScript({ failSetfacl: true }).code).not.toBe(0);
  });
});

describe('deploy/systemd/auditshipper.yaml', () => {
  it('every variable it needs is in env.example or the unit', () => {
    const refs = [...CONFIG_TEXT.matchAll(/^[^#\n]*?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/gm)].map(
      (m) => m[1]!,
    );
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect({ ...exampleEnv, ...unitEnv }, r).toHaveProperty(r);
  });

  it('passes `auditshipper validate` (the built CLI) with env.example loaded', () => {
    const r = runCli(['validate', '-c', join(ROOT, 'deploy', 'systemd', 'auditshipper.yaml')], {
      env: { ...exampleEnv, ...unitEnv },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('refuses to start without the secrets file, naming the variable and its line', () => {
    const r = runCli(['validate', '-c', join(ROOT, 'deploy', 'systemd', 'auditshipper.yaml')], {
      env: { DD_API_KEY: '' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /auditshipper\.yaml:\d+:\d+: environment variable DD_API_KEY is not set/,
    );
  });

  it('reads Docker json-file logs from where Docker writes them', () => {
    const s = config.sources.retool!;
    if (s.type !== 'file') throw new Error('not a file source');
    expect(s.include).toEqual(['/var/lib/docker/containers/*/*-json.log*']);
    expect(s.format).toBe('docker');
    expect(existsSync(join(ROOT, 'deploy', 'systemd', 'README.md'))).toBe(true);
  });
});
