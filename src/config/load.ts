/**
 * YAML → validated config, with every error reported as `file:line:col: message`.
 *
 * Order of work:
 *  1. parse the YAML into a Document (keeps node ranges; a LineCounter maps them to line:col);
 *  2. interpolate `${ENV}` and `${file:/path}` inside string scalars, in place, so positions stay
 *     those of the file the operator wrote. Interpolated values are secrets until proven otherwise:
 *     no message ever quotes them;
 *  3. validate with the zod schema (the single source of truth for config types);
 *  4. run semantic checks that need the whole config (routes naming sinks, ...), which report
 *     config paths that are mapped to positions the same way.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode, Scalar } from 'yaml';
import type { z } from 'zod';
import { closest, knownKeysAt } from './schema-walk.js';

export type ConfigPath = (string | number)[];

export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.message}`;
}

/** Thrown when a config cannot be used; `issues` are sorted by position. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface InterpolationEnv {
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
}

const defaultEnv = (): InterpolationEnv => ({
  env: process.env,
  readFile: (p) => readFileSync(p, 'utf8'),
});

/** A parsed-and-interpolated document plus the means to point at its nodes. */
export interface SourceMap {
  file: string;
  /** Position of the node at a config path (falls back to the nearest existing parent). */
  at(path: ConfigPath, key?: boolean): { line: number; col: number };
  /** True if the value at this path (or below it) came from interpolation. */
  isSecret(path: ConfigPath): boolean;
}

const VAR_RE = /\$\$\{|\$\{([^}]*)\}/g;

/**
 * Replace `${NAME}`, `${NAME:-default}` and `${file:/path}` in one string.
 * `$${` is an escaped literal `${`. Returns an error message (never containing a value) on failure.
 */
export function interpolate(
  text: string,
  env: InterpolationEnv,
): { value: string; used: boolean } | { error: string } {
  let used = false;
  let error: string | undefined;
  const value = text.replace(VAR_RE, (whole, expr: string | undefined) => {
    if (whole === '$${') return '${';
    used = true;
    const e = (expr ?? '').trim();
    if (e.startsWith('file:')) {
      const path = e.slice(5).trim();
      if (!path) {
        error ??= 'empty ${file:} reference';
        return '';
      }
      try {
        // Secrets files conventionally end with a newline that is not part of the secret.
        return env.readFile(path).replace(/\r?\n$/, '');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        error ??= `cannot read secret file ${path} (${code})`;
        return '';
      }
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(e);
    if (!m) {
      error ??= `invalid reference \${${e}}: use \${NAME}, \${NAME:-default} or \${file:/path}`;
      return '';
    }
    const name = m[1]!;
    const v = env.env[name];
    if (v !== undefined && v !== '') return v;
    if (m[2] !== undefined) return m[2];
    error ??= `environment variable ${name} is not set`;
    return '';
  });
  return error !== undefined ? { error } : { value, used };
}

export interface ParsedYaml {
  data: unknown;
  map: SourceMap;
  issues: ConfigIssue[];
}

/** Parse YAML text and interpolate; returns syntax and interpolation issues (does not throw). */
export function parseYaml(
  text: string,
  file: string,
  env: InterpolationEnv = defaultEnv(),
): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  for (const e of [...doc.errors, ...doc.warnings]) {
    const p = pos(e.pos[0]);
    // yaml's messages quote source snippets only on their own extra lines; keep the first line.
    issues.push({ file, ...p, message: e.message.split('\n')[0] ?? e.message });
  }
  const secretPaths: string[] = [];
  if (doc.errors.length === 0) {
    visit(doc, {
      Scalar(_key, node, path) {
        if (typeof node.value !== 'string' || !node.value.includes('${')) return;
        const r = interpolate(node.value, env);
        const p = pos(node.range?.[0] ?? 0);
        if ('error' in r) {
          issues.push({ file, ...p, message: r.error });
          node.value = '';
          return;
        }
        if (r.used) {
          node.value = r.value;
          secretPaths.push(pathKey(configPathOf(path, node)));
        }
      },
    });
  }
  const data: unknown = doc.errors.length === 0 ? doc.toJS({ maxAliasCount: 100 }) : undefined;
  const map: SourceMap = {
    file,
    at(path, key = false) {
      return pos(nodeOffset(doc, path, key));
    },
    isSecret(path) {
      const k = pathKey(path);
      return secretPaths.some(
        (s) => s === k || s.startsWith(k + '\u0000') || k.startsWith(s + '\u0000'),
      );
    },
  };
  return { data: data ?? null, map, issues };
}

function pathKey(path: ConfigPath): string {
  return path.map(String).join('\u0000');
}

/** Turn yaml's visitor ancestry into a config path. */
function configPathOf(ancestry: readonly unknown[], node: Scalar): ConfigPath {
  const out: ConfigPath = [];
  const chain = [...ancestry, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isPair(child) && isMap(parent)) {
      const k = child.key;
      out.push(isScalar(k) ? String(k.value) : String(k));
    } else if (isSeq(parent)) {
      out.push(parent.items.indexOf(child));
    }
  }
  return out;
}

/** Offset of the node at `path`, or of its nearest existing ancestor. */
function nodeOffset(doc: Document, path: ConfigPath, key: boolean): number {
  let node: unknown = doc.contents;
  let best = (node as YamlNode | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) return best;
      const last = i === path.length - 1;
      const target = last && key ? pair.key : (pair.value ?? pair.key);
      const r = (target as YamlNode | null)?.range;
      if (r) best = r[0];
      node = pair.value;
      if (last && key) return best;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return best;
      const r = (item as YamlNode | null)?.range;
      if (r) best = r[0];
      node = item;
    } else {
      return best;
    }
  }
  return best;
}

/** Map zod issues to positioned config issues, with suggestions for unknown keys. */
export function zodIssues(
  error: z.ZodError,
  schema: z.ZodType,
  data: unknown,
  map: SourceMap,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path, data);
      for (const k of issue.keys) {
        const hint = known ? closest(k, known) : undefined;
        const where = [...path, k];
        out.push({
          file: map.file,
          ...map.at(where, true),
          message:
            `unknown key "${k}"${path.length ? ` in ${path.join('.')}` : ''}` +
            (hint ? `; did you mean "${hint}"?` : known ? `; known keys: ${known.join(', ')}` : ''),
        });
      }
      continue;
    }
    const where = path.join('.') || '(top level)';
    const message = map.isSecret(path)
      ? `${where}: invalid value (it comes from an interpolated secret, so it is not shown)`
      : `${where}: ${humanMessage(issue, valueAt(data, path))}`;
    out.push({ file: map.file, ...map.at(path), message });
  }
  return out;
}

function valueAt(data: unknown, path: ConfigPath): unknown {
  let v = data;
  for (const k of path)
    v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined;
  return v;
}

function humanMessage(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'invalid_type' && value === undefined) {
    return `required (expected ${issue.expected})`;
  }
  if (
    issue.code === 'invalid_union' &&
    'note' in issue &&
    issue.note === 'No matching discriminator'
  ) {
    return `unknown type ${JSON.stringify(value)}: ${issue.message.replace(/^Invalid discriminator value\. /, '')}`;
  }
  return issue.message;
}

export function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * Parse + interpolate + validate. Throws ConfigError listing every problem found.
 * `check` runs semantic validation on the typed config and reports config paths.
 */
export function loadConfigText<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  opts: {
    env?: InterpolationEnv;
    check?: (cfg: z.output<S>) => {
      errors: { path: ConfigPath; message: string }[];
      warnings: { path: ConfigPath; message: string }[];
    };
  } = {},
): { config: z.output<S>; warnings: ConfigIssue[] } {
  const parsed = parseYaml(text, file, opts.env);
  if (parsed.issues.length > 0) throw new ConfigError(sortIssues(parsed.issues));
  const data = parsed.data ?? {};
  const r = schema.safeParse(data);
  if (!r.success) throw new ConfigError(sortIssues(zodIssues(r.error, schema, data, parsed.map)));
  const config = r.data;
  const warnings: ConfigIssue[] = [];
  if (opts.check) {
    const c = opts.check(config);
    const place = (x: { path: ConfigPath; message: string }): ConfigIssue => ({
      file,
      ...parsed.map.at(x.path),
      message: x.message,
    });
    if (c.errors.length > 0) throw new ConfigError(sortIssues(c.errors.map(place)));
    warnings.push(...c.warnings.map(place));
  }
  return { config, warnings: sortIssues(warnings) };
}
