/**
 * `auditshipper test -c CONFIG TESTS.yaml`: operator-written config tests, the way
 * `vector test` lets teams unit-test pipelines in their own CI. Each case feeds log lines
 * through a source's framing and profile, redaction and routing (in memory, as `run`
 * would) and checks where the event goes, what its fields are after redaction, and that
 * given strings (planted secrets) appear nowhere in it. Exit 0 when all pass, 1 otherwise.
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { RE2JS } from 're2js';
import { z } from 'zod';
import { ConfigError, formatIssue } from '../config/index.js';
import { loadConfigText } from '../config/load.js';
import { createDryRun, type DryResult } from '../dryrun.js';
import { canonicalJson } from '../event/canonical.js';
import { EXIT, loadOrReport, out } from './common.js';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const testCaseSchema = z.strictObject({
  name: z.string().min(1),
  /** Which source's format and profile to use (default: the first source). */
  source: z.string().optional(),
  /** One log line as it appears in the file, or several (e.g. CRI partials). */
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  expect: z.strictObject({
    result: z.enum(['audit', 'non_audit', 'malformed', 'filtered']).default('audit'),
    /** Exactly these sinks (any order); [] means unrouted. */
    sinks: z.array(z.string()).optional(),
    /** Exactly these routes matched (any order). */
    routes: z.array(z.string()).optional(),
    /** Field path of the redacted AuditEvent → value, or { regex } / { exists } (present and not null). */
    fields: z
      .record(
        z.string(),
        z.union([
          scalar,
          z.array(z.unknown()),
          z.strictObject({ regex: z.string() }),
          z.strictObject({ exists: z.boolean() }),
        ]),
      )
      .default({}),
    /** Strings that must not appear anywhere in the redacted event (planted secrets). */
    absent: z.array(z.string().min(1)).default([]),
  }),
});

export const testFileSchema = z.strictObject({
  tests: z.array(testCaseSchema).min(1, 'no tests in the file'),
});
type TestCase = z.output<typeof testCaseSchema>;

function get(obj: unknown, path: string): unknown {
  let v = obj;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));

/** Failure lines for one case; empty when it passes. */
export function checkCase(t: TestCase, results: DryResult[]): string[] {
  const fails: string[] = [];
  const r = results[0];
  if (results.length !== 1 || !r) {
    return [`expected one record from the input, got ${results.length}`];
  }
  if (r.kind !== t.expect.result) {
    fails.push(
      `result: expected ${t.expect.result}, got ${r.kind}${r.kind === 'malformed' ? ` (${r.reason})` : ''}`,
    );
    return fails;
  }
  if (r.kind !== 'audit' && r.kind !== 'filtered') return fails;
  const event = r.event;
  if (r.kind === 'audit') {
    const sameSet = (a: string[], b: string[]) => isDeepStrictEqual([...a].sort(), [...b].sort());
    if (t.expect.sinks && !sameSet(t.expect.sinks, r.routed.sinks)) {
      fails.push(`sinks: expected ${show(t.expect.sinks)}, got ${show(r.routed.sinks)}`);
    }
    if (t.expect.routes && !sameSet(t.expect.routes, r.routed.matched)) {
      fails.push(`routes: expected ${show(t.expect.routes)}, got ${show(r.routed.matched)}`);
    }
  }
  for (const [path, want] of Object.entries(t.expect.fields)) {
    const got = get(event, path);
    if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
      if ('regex' in want) {
        if (typeof got !== 'string' || !RE2JS.compile(want.regex).matcher(got).find()) {
          fails.push(`fields.${path}: expected to match /${want.regex}/, got ${show(got)}`);
        }
      } else if ((got !== undefined && got !== null) !== want.exists) {
        fails.push(
          `fields.${path}: expected ${want.exists ? 'present' : 'absent'}, got ${show(got)}`,
        );
      }
    } else if (!isDeepStrictEqual(got, want)) {
      fails.push(`fields.${path}: expected ${show(want)}, got ${show(got)}`);
    }
  }
  const text = canonicalJson(event);
  for (const s of t.expect.absent) {
    // The leaked value itself is not printed back: the point is that it must not spread.
    if (text.includes(s))
      fails.push(`absent: a forbidden string (${s.length} chars) appears in the event`);
  }
  return fails;
}

export function testCommand(opts: { config?: string; tests?: string }): number {
  if (!opts.tests) {
    process.stderr.write('usage: auditshipper test -c CONFIG TESTS.yaml\n');
    return EXIT.usage;
  }
  const loaded = loadOrReport(opts.config);
  if (typeof loaded === 'number') return loaded;
  let file: z.output<typeof testFileSchema>;
  try {
    const text = readFileSync(opts.tests, 'utf8');
    file = loadConfigText(text, opts.tests, testFileSchema).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) process.stderr.write(formatIssue(i) + '\n');
      return EXIT.invalid;
    }
    process.stderr.write(
      `${opts.tests}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})\n`,
    );
    return EXIT.invalid;
  }
  let passed = 0;
  let failed = 0;
  for (const t of file.tests) {
    let fails: string[];
    try {
      const dry = createDryRun(loaded.config, { source: t.source });
      const inputs = Array.isArray(t.input) ? t.input : [t.input];
      const results = [...inputs.flatMap((l) => dry.push(l)), ...dry.flush()];
      fails = checkCase(t, results);
    } catch (err) {
      fails = [(err as Error).message];
    }
    if (fails.length === 0) {
      passed++;
      out(`ok    ${t.name}`);
    } else {
      failed++;
      out(`FAIL  ${t.name}`);
      for (const f of fails) out(`      ${f}`);
    }
  }
  out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? EXIT.ok : EXIT.invalid;
}
