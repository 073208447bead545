/**
 * deploy/kubernetes/*.yaml: every manifest is valid against the Kubernetes schemas (with no
 * unknown fields), the agent container is hardened, its probes, volumes, grace period and
 * environment agree with the config embedded in the ConfigMap, and that config passes
 * `auditshipper validate` with the environment the pod would give it.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFromText, type LoadedConfig } from '../../src/config/index.js';
import { compileMatcher } from '../../src/sources/file/discovery.js';
import { ROOT, runCli, tempDir } from '../helpers/agent.js';
import { parseDockerfile } from './helpers/dockerfile.js';
import {
  SAMPLE_POD,
  containerEnv,
  containerNamed,
  find,
  manifestProblems,
  mountFor,
  mountsOf,
  parseManifests,
  parseQuantityBytes,
  podSpecOf,
  readMountedFile,
  type K8sObject,
  type Mount,
  type PodIdentity,
} from './helpers/kubernetes.js';

const DIR = join(ROOT, 'deploy', 'kubernetes');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface AgentDeployment {
  file: string;
  objs: K8sObject[];
  workload: K8sObject;
  pod: K8sObject;
  agent: K8sObject;
  env: Record<string, string>;
  mounts: Mount[];
  configPath: string;
  configText: string;
  loaded: LoadedConfig;
}

/** Load a manifest file the way the pod would see it: env resolved, config read from its mount. */
function loadAgentDeployment(
  file: string,
  kind: string,
  pod: PodIdentity = SAMPLE_POD,
): AgentDeployment {
  const objs = parseManifests(read(file), file);
  const workload = find(objs, kind);
  const spec = podSpecOf(workload);
  const agent = containerNamed(spec, 'auditshipper');
  const env = containerEnv(agent, objs, pod);
  const mounts = mountsOf(agent, spec);
  const configPath = env.AUDITSHIPPER_CONFIG;
  if (!configPath) throw new Error(`${file}: the agent has no AUDITSHIPPER_CONFIG`);
  const configText = readMountedFile(configPath, mounts, objs);
  const loaded = loadConfigFromText(configText, `${file}#${configPath}`, {
    env,
    readFile: (p) => readMountedFile(p, mounts, objs),
  });
  return { file, objs, workload, pod: spec, agent, env, mounts, configPath, configText, loaded };
}

const imageUser = (() => {
  const df = parseDockerfile(read('Dockerfile'));
  const users = df.stages.at(-1)!.instructions.filter((i) => i.keyword === 'USER');
  return Number(users.at(-1)!.rest.split(':')[0]);
})();

describe('manifest checker (guards the checks below)', () => {
  const deployment = (container: K8sObject): K8sObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', labels: { a: 'b' } },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: { metadata: { labels: { a: 'b' } }, spec: { containers: [container] } },
    },
  });

  it('accepts a minimal valid object', () => {
    expect(manifestProblems(deployment({ name: 'c', image: 'i' }))).toEqual([]);
  });

  it('reports schema violations', () => {
    const p = manifestProblems(
      deployment({ name: 'c', image: 'i', securityContext: { runAsNonRoot: 'yes' } }),
    );
    expect(p.join('\n')).toMatch(/runAsNonRoot must be boolean/);
  });

  it('reports misspelt fields that the schema alone lets through', () => {
    const p = manifestProblems(
      deployment({ name: 'c', image: 'i', securityContext: { readOnlyRootFileSystem: true } }),
    );
    expect(p).toEqual([
      'apps/v1/Deployment: unknown field /spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem',
    ]);
  });

  it('reports a kind it has no schema for instead of passing it', () => {
    expect(manifestProblems({ apiVersion: 'v9', kind: 'Thing' })).toEqual([
      'v9/Thing: no schema known to this test (add it to MODELS)',
    ]);
  });

  it('reads YAML the way kubectl does (1.1: 0440 is octal, yes is a boolean)', () => {
    const [o] = parseManifests('a: 0440\nb: yes\n', 't.yaml');
    expect(o).toEqual({ a: 0o440, b: true });
    expect(() => parseManifests('a: 1\na: 2\n', 't.yaml')).toThrow(/t\.yaml/);
  });
});

describe.each(readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)))(
  'deploy/kubernetes/%s',
  (name) => {
    it('every document is a valid Kubernetes object with no unknown fields', () => {
      const objs = parseManifests(read(`deploy/kubernetes/${name}`), name);
      expect(objs.length).toBeGreaterThan(0);
      for (const o of objs)
        expect(manifestProblems(o), `${String(o.kind)} ${o.metadata?.name}`).toEqual([]);
    });
  },
);

const DEPLOYMENTS = [
  { file: 'deploy/kubernetes/sidecar.yaml', kind: 'Deployment' },
  { file: 'deploy/kubernetes/daemonset.yaml', kind: 'DaemonSet' },
];

describe.each(DEPLOYMENTS)('$file: the agent', ({ file, kind }) => {
  const d = loadAgentDeployment(file, kind);
  const cfg = d.loaded.config;

  it('runs hardened: non-root, read-only root, no capabilities, no escalation, RuntimeDefault seccomp', () => {
    const sc = d.agent.securityContext ?? {};
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.runAsUser).toBe(imageUser);
    expect(sc.runAsUser).not.toBe(0);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.privileged ?? false).toBe(false);
    expect(sc.capabilities?.drop).toContain('ALL');
    expect(sc.capabilities?.add ?? []).toEqual([]);
    const seccomp = sc.seccompProfile ?? d.pod.securityContext?.seccompProfile;
    expect(seccomp?.type).toBe('RuntimeDefault');
    expect(d.pod.hostNetwork ?? false).toBe(false);
    expect(d.pod.hostPID ?? false).toBe(false);
  });

  it('has CPU and memory requests and limits', () => {
    for (const k of ['requests', 'limits'] as const) {
      expect(d.agent.resources?.[k]?.cpu, k).toBeDefined();
      expect(d.agent.resources?.[k]?.memory, k).toBeDefined();
    }
  });

  it('listens where the probes and Prometheus reach it, and probes /healthz and /readyz', () => {
    const [host, port] = [
      cfg.api.listen.slice(0, cfg.api.listen.lastIndexOf(':')),
      Number(cfg.api.listen.split(':').at(-1)),
    ];
    expect(cfg.api.enabled).toBe(true);
    expect(['0.0.0.0', '[::]']).toContain(host);
    const portOf = (p: string | number) =>
      typeof p === 'number'
        ? p
        : (d.agent.ports as K8sObject[]).find((x) => x.name === p)?.containerPort;
    expect(d.agent.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(d.agent.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(portOf(d.agent.livenessProbe.httpGet.port)).toBe(port);
    expect(portOf(d.agent.readinessProbe.httpGet.port)).toBe(port);
    const ann = d.workload.spec.template.metadata?.annotations ?? {};
    if (ann['prometheus.io/port']) expect(Number(ann['prometheus.io/port'])).toBe(port);
  });

  it('gets a termination grace period longer than shutdown_timeout', () => {
    expect(cfg.shutdown_timeout).toBeGreaterThan(0);
    expect(d.pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(cfg.shutdown_timeout);
  });

  it('reads its config from the ConfigMap mount named by AUDITSHIPPER_CONFIG', () => {
    const m = mountFor(d.configPath, d.mounts);
    expect(m?.readOnly).toBe(true);
    expect(m?.volume.configMap?.name).toBeDefined();
  });

  it('reads /var/log/pods through a read-only hostPath, and every include glob lies under it', () => {
    const logs = d.mounts.find((m) => m.volume.hostPath?.path === '/var/log/pods');
    expect(logs?.readOnly).toBe(true);
    expect(logs?.mountPath).toBe('/var/log/pods');
    for (const src of Object.values(cfg.sources)) {
      if (src.type !== 'file') continue;
      for (const g of src.include)
        expect(mountFor(g, d.mounts)?.mountPath, g).toBe('/var/log/pods');
      expect(src.format).toBe('cri');
    }
  });

  it('writes only to data_dir and /tmp, both mounted writable', () => {
    const writable = d.mounts
      .filter((m) => !m.readOnly)
      .map((m) => m.mountPath)
      .sort();
    expect(writable).toEqual([cfg.data_dir, '/tmp'].sort());
    for (const m of d.mounts.filter((x) => !x.readOnly)) {
      expect(m.volume.hostPath?.path === '/var/log/pods').toBe(false);
    }
    for (const s of Object.values(cfg.sinks))
      expect(s.type, 'a file sink needs a volume').not.toBe('file');
  });

  it('takes its secrets from a Secret, never from the manifest text of the config', () => {
    expect(d.configText).not.toMatch(/replace-with|api_key:\s*["']?[A-Za-z0-9]{16,}/);
    const refs = [...d.configText.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]!.trim());
    const secretish = refs.filter(
      (r) => r.startsWith('file:') || /KEY|TOKEN|SECRET|PASSWORD/.test(r),
    );
    expect(secretish.length).toBeGreaterThan(0);
    for (const r of secretish) {
      if (r.startsWith('file:')) {
        expect(mountFor(r.slice(5), d.mounts)?.volume.secret, r).toBeDefined();
      } else {
        const name = r.split(':-')[0]!;
        const e = (d.agent.env as K8sObject[]).find((x) => x.name === name);
        expect(e?.valueFrom?.secretKeyRef, name).toBeDefined();
      }
    }
  });

  it('passes `auditshipper validate` (the built CLI) with the environment the pod gives it', () => {
    const dir = tempDir('as-k8s-');
    // Files the config reads with ${file:...} are written where the pod would mount them,
    // under a temporary root, and the references are pointed there.
    const text = d.configText.replace(/\$\{file:\s*([^}]+)\}/g, (_, p: string) => {
      const target = join(dir, 'root', p.trim());
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, readMountedFile(p.trim(), d.mounts, d.objs));
      return '${file:' + target + '}';
    });
    const configFile = join(dir, 'auditshipper.yaml');
    writeFileSync(configFile, text);
    const r = runCli(['validate', '-c', configFile], { env: d.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: ok \(/);
  });
});

describe('deploy/kubernetes/sidecar.yaml', () => {
  const d = loadAgentDeployment('deploy/kubernetes/sidecar.yaml', 'Deployment');
  const retool = containerNamed(d.pod, d.env.RETOOL_CONTAINER!);

  it('runs beside a Retool backend that logs audit events', () => {
    expect(retool.image).toMatch(/^tryretool\/backend:/);
    const e = (retool.env as K8sObject[]).find((x) => x.name === 'LOG_AUDIT_EVENTS');
    expect(e?.value).toBe('true');
    expect(retool.name).not.toBe('auditshipper');
  });

  it('is a native sidecar when listed as an init container', () => {
    const asInit = (d.pod.initContainers ?? []).includes(d.agent);
    if (asInit) expect(d.agent.restartPolicy).toBe('Always');
  });

  it('finds its own pod directory through the downward API', () => {
    const ref = (name: string) =>
      (d.agent.env as K8sObject[]).find((x) => x.name === name)?.valueFrom?.fieldRef?.fieldPath;
    expect(ref('POD_NAMESPACE')).toBe('metadata.namespace');
    expect(ref('POD_NAME')).toBe('metadata.name');
    expect(ref('POD_UID')).toBe('metadata.uid');
    const src = d.loaded.config.sources.retool!;
    if (src.type !== 'file') throw new Error('retool source is not a file source');
    const m = compileMatcher(src.include, src.exclude);
    const { namespace: ns, name, uid } = SAMPLE_POD;
    const own = `/var/log/pods/${ns}_${name}_${uid}`;
    expect(m.accepts(`${own}/${retool.name}/0.log`)).toBe(true);
    expect(m.accepts(`${own}/${retool.name}/1.log`)).toBe(true);
    expect(m.accepts(`${own}/${retool.name}/0.log.20261121-101500`)).toBe(true);
    expect(m.accepts(`${own}/${retool.name}/0.log.20261120-101500.gz`)).toBe(false);
    expect(m.accepts(`${own}/auditshipper/0.log`)).toBe(false);
    expect(
      m.accepts(`/var/log/pods/${ns}_retool-6c9d7f8b4-other_${uid}/${retool.name}/0.log`),
    ).toBe(false);
    expect(m.accepts(`/var/log/pods/other_${name}_${uid}/${retool.name}/0.log`)).toBe(false);
  });

  it('cannot load its config without the downward-API environment', () => {
    const { POD_UID: _, ...env } = d.env;
    expect(() =>
      loadConfigFromText(d.configText, 'sidecar', {
        env,
        readFile: (p) => readMountedFile(p, d.mounts, d.objs),
      }),
    ).toThrow(ConfigError);
    expect(() =>
      loadConfigFromText(d.configText, 'sidecar', {
        env,
        readFile: (p) => readMountedFile(p, d.mounts, d.objs),
      }),
    ).toThrow(/POD_UID is not set/);
  });

  it('buffers on an emptyDir sized well above buffer.max_bytes', () => {
    const data = mountFor(d.loaded.config.data_dir, d.mounts)!;
    expect(data.volume.emptyDir).toBeDefined();
    const limit = parseQuantityBytes(data.volume.emptyDir.sizeLimit);
    expect(limit).toBeGreaterThanOrEqual(2 * d.loaded.config.buffer.max_bytes);
  });

  it('mounts the API key file readable by the agent only through its group', () => {
    const secretVol = d.mounts.find((m) => m.volume.secret)!.volume;
    expect(secretVol.secret.defaultMode).toBe(0o440);
    expect(d.pod.securityContext?.fsGroup).toBe(imageUser);
  });
});

describe('deploy/kubernetes/daemonset.yaml', () => {
  const d = loadAgentDeployment('deploy/kubernetes/daemonset.yaml', 'DaemonSet');
  const cfg = d.loaded.config;

  it('uses a ServiceAccount without a token and grants no API permissions', () => {
    const sa = find(d.objs, 'ServiceAccount', d.pod.serviceAccountName);
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(d.pod.automountServiceAccountToken).toBe(false);
    expect(d.objs.filter((o) => /Role/.test(String(o.kind)))).toEqual([]);
  });

  it('keeps its buffer on a hostPath that survives pod restarts', () => {
    const data = mountFor(cfg.data_dir, d.mounts)!;
    expect(data.volume.hostPath).toEqual({
      path: '/var/lib/auditshipper',
      type: 'DirectoryOrCreate',
    });
    expect(data.readOnly).toBe(false);
  });

  it('never runs two agents on one node (they would share the buffer)', () => {
    expect(d.workload.spec.updateStrategy?.rollingUpdate?.maxSurge ?? 0).toBe(0);
  });

  it('reports the node name as the event host', () => {
    const e = (d.agent.env as K8sObject[]).find((x) => x.name === 'AUDITSHIPPER_HOSTNAME');
    expect(e?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    expect(d.env.AUDITSHIPPER_HOSTNAME).toBe(SAMPLE_POD.nodeName);
  });

  it('reads every Retool pod on the node and nothing else', () => {
    const src = cfg.sources.retool!;
    if (src.type !== 'file') throw new Error('retool source is not a file source');
    const m = compileMatcher(src.include, src.exclude);
    const uid = SAMPLE_POD.uid;
    expect(m.accepts(`/var/log/pods/tools_retool-6c9d7f8b4-x2x7q_${uid}/backend/0.log`)).toBe(true);
    expect(m.accepts(`/var/log/pods/prod_retool-jobs-runner-5d_${uid}/jobs/2.log`)).toBe(true);
    expect(
      m.accepts(`/var/log/pods/tools_retool-6c9d7f8b4-x2x7q_${uid}/backend/0.log.20261121-101500`),
    ).toBe(true);
    expect(
      m.accepts(`/var/log/pods/tools_retool-6c9d7f8b4-x2x7q_${uid}/backend/0.log.20261121-1015.gz`),
    ).toBe(false);
    expect(m.accepts(`/var/log/pods/tools_retool-6c9d7f8b4-x2x7q_${uid}/auditshipper/0.log`)).toBe(
      false,
    );
    expect(m.accepts(`/var/log/pods/tools_postgres-0_${uid}/postgres/0.log`)).toBe(false);
    expect(
      m.accepts(`/var/log/pods/auditshipper_auditshipper-x8k2p_${uid}/auditshipper/0.log`),
    ).toBe(false);
  });

  it('hands the buffer directory to the agent with a root init container holding only CHOWN and FOWNER', () => {
    const inits = (d.pod.initContainers ?? []) as K8sObject[];
    expect(inits).toHaveLength(1);
    const init = inits[0]!;
    expect(init.image).toBe(d.agent.image);
    expect(init.command.join(' ')).toContain(`chown ${imageUser}:${imageUser} ${cfg.data_dir}`);
    expect(init.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN', 'FOWNER'] });
    expect(init.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(init.securityContext.allowPrivilegeEscalation).toBe(false);
    const initMounts = mountsOf(init, d.pod);
    expect(initMounts.map((m) => m.mountPath)).toEqual([cfg.data_dir]);
  });
});
