/**
 * Kubernetes manifest checks for the deployment files: multi-document YAML parsed the way
 * kubectl reads it (YAML 1.1), each object validated against the Kubernetes OpenAPI schema
 * compiled into `kubernetes-models`, plus a strict-field check.
 *
 * Why the strict check: the schemas do not forbid unknown properties, so a misspelt field
 * (`readOnlyRootFileSystem`) validates, yet kubectl's default `--validate=strict` rejects
 * it and, worse, a misspelt security setting would silently not apply. The validator reads
 * every property its schema knows; a property it never reads is unknown. A Proxy records
 * the reads.
 */
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';

// Parsed YAML of any shape: the schema validation below is the real type check, and the
// tests read deep paths that a static type would only restate.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = Record<string, any>;

interface Validatable {
  validate(): void;
}
// Each model's constructor takes its own interface; `never` would reject them all.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelCtor = new (data: any) => Validatable;

const MODELS: Record<string, ModelCtor> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
};

/** Every non-empty document of a YAML stream; any syntax error or warning throws. */
export function parseManifests(text: string, file: string): K8sObject[] {
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const out: K8sObject[] = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      throw new Error(`${file}: ${problems.map((p) => p.message.split('\n')[0]).join('; ')}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`${file}: a document is not a mapping`);
    }
    out.push(value);
  }
  return out;
}

/** Schema violations and unknown fields of one object; empty when it is valid. */
export function manifestProblems(obj: K8sObject): string[] {
  const id = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const Model = MODELS[id];
  if (!Model) return [`${id}: no schema known to this test (add it to MODELS)`];
  const problems: string[] = [];
  const model = new Model(obj);
  try {
    model.validate();
  } catch (err) {
    problems.push(`${id}: ${(err as Error).message}`);
  }
  const read = new Set<string>();
  try {
    Model.prototype.validate.call(recordReads(model, '', read));
  } catch {
    // reported above
  }
  for (const p of unreadPaths(obj, '', read)) problems.push(`${id}: unknown field ${p}`);
  return problems;
}

function recordReads<T>(value: T, path: string, read: Set<string>): T {
  if (value === null || typeof value !== 'object') return value;
  return new Proxy(value, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !Object.prototype.hasOwnProperty.call(target, prop)) return v;
      const p = `${path}/${prop}`;
      read.add(p);
      return recordReads(v, p, read);
    },
    // Maps (labels, data, resources.limits) are enumerated: all their keys are legitimate.
    ownKeys(target) {
      const keys = Reflect.ownKeys(target);
      for (const k of keys) if (typeof k === 'string') read.add(`${path}/${k}`);
      return keys;
    },
  });
}

/** Paths present in the data that the validator never read (outermost only). */
function unreadPaths(value: unknown, path: string, read: Set<string>): string[] {
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = `${path}/${k}`;
    if (!read.has(p)) out.push(p);
    else out.push(...unreadPaths(v, p, read));
  }
  return out;
}

/** The first object of a kind (and name, if given); throws when absent. */
export function find(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata?.name === name));
  if (!o) throw new Error(`no ${kind}${name ? ` named ${name}` : ''} in the manifests`);
  return o;
}

/** Parse a Kubernetes quantity of bytes (e.g. 2Gi, 512Mi, 1G) to a number. */
export function parseQuantityBytes(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m) throw new Error(`not a byte quantity: ${q}`);
  const mult: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
}

/** Stand-ins for what the downward API gives a pod at run time. */
export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
}

export const SAMPLE_POD: PodIdentity = {
  namespace: 'tools',
  name: 'retool-6c9d7f8b4-x2x7q',
  uid: '0f6e2c1a-5b7d-4e3f-9a8b-1c2d3e4f5a6b',
  nodeName: 'node-1',
};

export type PodSpec = K8sObject;
export type Container = K8sObject;

export function podSpecOf(workload: K8sObject): PodSpec {
  const spec = workload.spec?.template?.spec;
  if (!spec) throw new Error(`${String(workload.kind)} has no pod template`);
  return spec;
}

/** A container by name, from `containers` or `initContainers`. */
export function containerNamed(pod: PodSpec, name: string): Container {
  const all = [...(pod.containers ?? []), ...(pod.initContainers ?? [])] as Container[];
  const c = all.find((x) => x.name === name);
  if (!c) throw new Error(`no container named ${name}`);
  return c;
}

function keyOf(obj: K8sObject, key: string): string | undefined {
  if (obj.stringData && key in obj.stringData) return String(obj.stringData[key]);
  if (obj.data && key in obj.data) {
    return obj.kind === 'Secret'
      ? Buffer.from(String(obj.data[key]), 'base64').toString()
      : String(obj.data[key]);
  }
  return undefined;
}

/** The environment the container would get, resolving downward-API and Secret references. */
export function containerEnv(
  c: Container,
  objs: K8sObject[],
  pod: PodIdentity,
): Record<string, string> {
  if (c.envFrom) throw new Error('envFrom is not modelled by this test');
  const fields: Record<string, string> = {
    'metadata.namespace': pod.namespace,
    'metadata.name': pod.name,
    'metadata.uid': pod.uid,
    'spec.nodeName': pod.nodeName,
  };
  const env: Record<string, string> = {};
  for (const e of (c.env ?? []) as K8sObject[]) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef) {
      const v = fields[e.valueFrom.fieldRef.fieldPath as string];
      if (v === undefined)
        throw new Error(`${e.name}: fieldPath ${e.valueFrom.fieldRef.fieldPath} not modelled`);
      env[e.name] = v;
    } else if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
      const kind = e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
      const v = keyOf(find(objs, kind, ref.name), ref.key);
      if (v === undefined) throw new Error(`${e.name}: ${kind} ${ref.name} has no key ${ref.key}`);
      env[e.name] = v;
    } else {
      throw new Error(`${e.name}: env source not modelled`);
    }
  }
  return env;
}

export interface Mount {
  mountPath: string;
  readOnly: boolean;
  volume: K8sObject;
}

export function mountsOf(c: Container, pod: PodSpec): Mount[] {
  return ((c.volumeMounts ?? []) as K8sObject[]).map((m) => {
    const volume = ((pod.volumes ?? []) as K8sObject[]).find((v) => v.name === m.name);
    if (!volume) throw new Error(`volumeMount ${m.name} has no volume`);
    return { mountPath: m.mountPath, readOnly: m.readOnly === true, volume };
  });
}

/** The mount a path lives under (longest mountPath prefix). */
export function mountFor(path: string, mounts: Mount[]): Mount | undefined {
  return mounts
    .filter((m) => path === m.mountPath || path.startsWith(m.mountPath.replace(/\/$/, '') + '/'))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

/**
 * Contents of a file under a Secret or ConfigMap volume mount, as the container would see
 * it; throws (like a missing file would) when nothing is mounted there.
 */
export function readMountedFile(path: string, mounts: Mount[], objs: K8sObject[]): string {
  const m = mountFor(path, mounts);
  if (!m) throw Object.assign(new Error(`nothing mounted at ${path}`), { code: 'ENOENT' });
  const rel = path.slice(m.mountPath.replace(/\/$/, '').length + 1);
  const src = m.volume.secret
    ? find(objs, 'Secret', m.volume.secret.secretName)
    : m.volume.configMap
      ? find(objs, 'ConfigMap', m.volume.configMap.name)
      : undefined;
  const v = src ? keyOf(src, rel) : undefined;
  if (v === undefined) throw Object.assign(new Error(`no file ${path}`), { code: 'ENOENT' });
  return v;
}
