/**
 * A small Dockerfile reader for the image tests (there is no Docker engine in CI): enough of
 * the syntax to check what the image promises. It follows the Dockerfile reference on
 * parser directives, comments (also between continuation lines), `\` continuations, exec
 * (JSON array) versus shell form, and `ARG` before `FROM`; it does not evaluate RUN.
 * Continuation lines are joined as Docker joins them: backslash and newline removed.
 */
import picomatch from 'picomatch';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Flags such as `--from=build`, `--chown=...`, `--interval=30s`, in order. */
  flags: string[];
  /** Everything after the keyword and flags, continuation lines joined. */
  rest: string;
  /** The parsed JSON array when `rest` is in exec form. */
  exec?: string[];
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  /** The image reference as written after FROM (ARG substitution applied). */
  base: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Instructions before the first FROM (only ARG is legal there). */
  preamble: Instruction[];
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  const logical: { text: string; line: number }[] = [];
  let buf: string | null = null;
  let start = 0;
  let directivesAllowed = true;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (directivesAllowed && /^#\s*[a-z]+\s*=/.test(trimmed)) continue; // parser directive
    if (trimmed.startsWith('#')) continue; // comments vanish, even inside a continuation
    directivesAllowed = false;
    if (buf === null && trimmed === '') continue;
    const continued = /\\\s*$/.test(raw);
    const piece = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (buf === null) {
      buf = piece;
      start = i + 1;
    } else {
      buf += piece; // Docker joins continuation lines as they are, without a separator
    }
    if (!continued) {
      logical.push({ text: buf.trim(), line: start });
      buf = null;
    }
  }
  if (buf !== null) throw new Error(`line ${start}: continuation at end of file`);

  const instructions = logical.map(({ text: t, line }) => parseInstruction(t, line));
  const args = new Map<string, string>();
  const out: Dockerfile = { preamble: [], stages: [] };
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.rest);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.rest}`);
      const base = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => {
        const v = args.get(a ?? b);
        if (v === undefined) throw new Error(`line ${ins.line}: ARG ${a ?? b} has no default`);
        return v;
      });
      out.stages.push({ base, ...(m[2] ? { name: m[2] } : {}), instructions: [] });
    } else if (out.stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before FROM`);
      const m = /^(\w+)(?:=(.*))?$/.exec(ins.rest);
      if (m?.[2] !== undefined) args.set(m[1]!, m[2]);
      out.preamble.push(ins);
    } else {
      out.stages[out.stages.length - 1]!.instructions.push(ins);
    }
  }
  return out;
}

const KEYWORDS = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

function parseInstruction(text: string, line: number): Instruction {
  const m = /^(\S+)\s*(.*)$/s.exec(text)!;
  const keyword = m[1]!.toUpperCase();
  if (!KEYWORDS.has(keyword)) throw new Error(`line ${line}: unknown instruction ${m[1]}`);
  let rest = m[2]!;
  const flags: string[] = [];
  for (;;) {
    const f = /^(--[a-z-]+(?:=\S*)?)\s*(.*)$/s.exec(rest);
    if (!f) break;
    flags.push(f[1]!);
    rest = f[2]!;
  }
  const ins: Instruction = { keyword, flags, rest, line };
  // HEALTHCHECK CMD [...] and the plain exec forms.
  const execText = keyword === 'HEALTHCHECK' ? /^CMD\s+(\[.*\])$/s.exec(rest)?.[1] : rest;
  if (execText?.startsWith('[')) {
    const parsed: unknown = JSON.parse(execText);
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      throw new Error(`line ${line}: exec form must be a JSON array of strings`);
    }
    ins.exec = parsed;
  }
  return ins;
}

/** ENV instructions of a stage as a map (both `K=V ...` and the legacy `K V` form). */
export function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    const legacy = /^(\w+)\s+([^=]*)$/.exec(ins.rest);
    if (legacy) {
      env.set(legacy[1]!, legacy[2]!.trim());
      continue;
    }
    for (const m of ins.rest.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
      env.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
    }
  }
  return env;
}

/**
 * Whether `.dockerignore` keeps a context path out of the build. Docker's rules: patterns
 * are matched against the path and each of its parent directories, the last matching
 * pattern wins, and `!` re-includes.
 */
export function dockerIgnored(patterns: string[], path: string): boolean {
  const rules = patterns
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith('#'))
    .map((p) => {
      const negate = p.startsWith('!');
      const glob = (negate ? p.slice(1) : p).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negate, match: picomatch(glob, { dot: true }) };
    });
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const r of rules) if (prefixes.some((p) => r.match(p))) ignored = !r.negate;
  return ignored;
}
