/**
 * deploy/prometheus/alerts.yaml: well-formed alerting rules that only use metrics, labels
 * and label values the agent really exports (read from its own metric registry and from
 * the label values in src/), counters only through rate()/increase(), and annotation
 * templates that only name labels the expression keeps. `promtool check rules` runs too
 * where promtool is installed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Histogram } from 'prom-client';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/telemetry/metrics.js';
import { ROOT } from '../helpers/agent.js';

const FILE = join(ROOT, 'deploy', 'prometheus', 'alerts.yaml');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}

/** name → { type, labels } for every metric the agent exports (histograms add series). */
function exported(): Map<string, { type: 'counter' | 'gauge' | 'histogram'; labels: string[] }> {
  const out = new Map<string, { type: 'counter' | 'gauge' | 'histogram'; labels: string[] }>();
  for (const m of createMetrics().registry.getMetricsAsArray()) {
    const labels = [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])];
    if (m instanceof Histogram) {
      out.set(`${m.name}_bucket`, { type: 'counter', labels: [...labels, 'le'] });
      out.set(`${m.name}_sum`, { type: 'counter', labels });
      out.set(`${m.name}_count`, { type: 'counter', labels });
    } else {
      out.set(m.name, { type: m instanceof Counter ? 'counter' : 'gauge', labels });
    }
  }
  out.set('up', { type: 'gauge', labels: [] });
  return out;
}

/** Label values the agent emits for a label, found as `label: 'value'` in src/. */
function emittedValues(label: string): Set<string> {
  const values = new Set<string>();
  const walk = (dir: string) => {
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(
          new RegExp(`\\b${label}: '([a-z_]+)'`, 'g'),
        ))
          values.add(m[1]!);
      }
    }
  };
  walk(join(ROOT, 'src'));
  return values;
}

const SCRAPE_LABELS = ['instance', 'job'];
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);
const FUNCTIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'deriv',
  'delta',
  'idelta',
  'min_over_time',
  'max_over_time',
  'avg_over_time',
  'absent',
  'predict_linear',
  'histogram_quantile',
  'clamp_min',
  'topk',
]);

/** Problems with one rule; empty when it is sound. */
function ruleProblems(rule: Rule, metrics: ReturnType<typeof exported>): string[] {
  const p: string[] = [];
  const where = rule.alert ?? '(no name)';
  if (!/^[A-Z][A-Za-z0-9]+$/.test(rule.alert ?? ''))
    p.push(`${where}: alert name must be CamelCase`);
  if (typeof rule.expr !== 'string' || rule.expr.trim() === '') return [...p, `${where}: no expr`];
  if (rule.for !== undefined && !/^\d+[smhdwy]$/.test(rule.for))
    p.push(`${where}: bad for: ${rule.for}`);
  if (!['critical', 'warning', 'info'].includes(rule.labels?.severity ?? ''))
    p.push(`${where}: severity`);
  if (!rule.annotations?.summary || !rule.annotations?.description)
    p.push(`${where}: summary and description`);

  const expr = rule.expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const depth = { '(': 0, '{': 0, '[': 0 };
  const close: Record<string, keyof typeof depth> = { ')': '(', '}': '{', ']': '[' };
  for (const ch of expr) {
    if (ch in depth) depth[ch as keyof typeof depth]++;
    else if (ch in close && --depth[close[ch]!] < 0) p.push(`${where}: unbalanced ${ch}`);
  }
  if (Object.values(depth).some((d) => d !== 0)) p.push(`${where}: unbalanced brackets`);

  // Metric names: identifiers not followed by "(" that are not keywords, label names or durations.
  const withoutMatchers = rule.expr.replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
  const byLabels = [
    ...withoutMatchers.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g),
  ].flatMap((m) => m[1]!.split(',').map((s) => s.trim()));
  const names = [
    ...withoutMatchers
      .replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, '')
      .matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(\()?/g),
  ]
    .filter((m) => !m[2] && !KEYWORDS.has(m[1]!) && !/^\d/.test(m[1]!))
    .map((m) => m[1]!);
  for (const fn of withoutMatchers.matchAll(/\b([a-z_]+)\s*\(/g)) {
    if (!FUNCTIONS.has(fn[1]!) && !KEYWORDS.has(fn[1]!))
      p.push(`${where}: unknown function ${fn[1]}`);
  }
  const used = names.map((n) => ({ n, m: metrics.get(n) }));
  for (const { n, m } of used) if (!m) p.push(`${where}: ${n} is not exported by the agent`);
  const known = new Set([...SCRAPE_LABELS, ...used.flatMap(({ m }) => m?.labels ?? [])]);

  for (const sel of rule.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
    const m = metrics.get(sel[1]!);
    for (const matcher of sel[2]!.split(',').filter((s) => s.trim())) {
      const mm = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*$/.exec(matcher);
      if (!mm) {
        p.push(`${where}: cannot read matcher ${matcher}`);
        continue;
      }
      if (m && ![...SCRAPE_LABELS, ...m.labels].includes(mm[1]!))
        p.push(`${where}: ${sel[1]} has no label ${mm[1]}`);
      if (mm[1] === 'outcome' || mm[1] === 'result' || mm[1] === 'class') {
        const emitted = emittedValues(mm[1]);
        const values = mm[2] === '=~' || mm[2] === '!~' ? mm[3]!.split('|') : [mm[3]!];
        for (const v of values)
          if (!emitted.has(v) && mm[1] !== 'class')
            p.push(`${where}: ${mm[1]}="${v}" is never emitted`);
      }
    }
  }
  for (const l of byLabels)
    if (!known.has(l)) p.push(`${where}: by (${l}): no metric here has that label`);

  for (const { n, m } of used) {
    if (
      m?.type === 'counter' &&
      !new RegExp(`\\b(rate|irate|increase)\\(\\s*${n}\\b`).test(rule.expr)
    ) {
      p.push(`${where}: counter ${n} used without rate()/increase()`);
    }
    if (
      m?.type === 'gauge' &&
      new RegExp(`\\b(rate|irate|increase)\\(\\s*${n}\\b`).test(rule.expr)
    ) {
      p.push(`${where}: gauge ${n} used with rate()/increase()`);
    }
  }

  // Templates may only name labels the result keeps: the outermost by (...) if the
  // expression aggregates, else every label of its metrics.
  const outer = /^\s*(?:sum|min|max|avg|count)\s+by\s*\(([^)]*)\)/.exec(rule.expr);
  const kept = outer ? new Set(outer[1]!.split(',').map((s) => s.trim())) : known;
  for (const text of Object.values(rule.annotations ?? {})) {
    for (const t of text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
      if (!kept.has(t[1]!))
        p.push(`${where}: annotation uses $labels.${t[1]}, which the expression drops`);
    }
  }
  return p;
}

const groups = (parse(readFileSync(FILE, 'utf8')) as { groups: Group[] }).groups;
const metrics = exported();

describe('rule checker (guards the checks below)', () => {
  const good: Rule = {
    alert: 'SinkErrors',
    expr: 'sum by (instance, sink) (rate(auditshipper_delivery_errors_total{class="network"}[5m])) > 0',
    labels: { severity: 'warning' },
    annotations: { summary: '{{ $labels.sink }}', description: 'd' },
  };

  it('accepts a sound rule', () => {
    expect(ruleProblems(good, metrics)).toEqual([]);
  });

  it('rejects unknown metrics and labels, raw counters, unknown outcomes and dropped template labels', () => {
    const bad = (over: Partial<Rule>) => ruleProblems({ ...good, ...over }, metrics).join('\n');
    expect(bad({ expr: 'auditshipper_queue_depth > 0' })).toMatch(/not exported/);
    expect(bad({ expr: 'auditshipper_sink_healthy{snk="x"} == 0' })).toMatch(/has no label snk/);
    expect(bad({ expr: 'auditshipper_dead_lettered_total > 0' })).toMatch(/without rate/);
    expect(bad({ expr: 'increase(auditshipper_records_total{outcome="droped"}[5m]) > 0' })).toMatch(
      /never emitted/,
    );
    expect(
      bad({ expr: 'sum by (instance) (rate(auditshipper_lines_read_total[5m])) > 0' }),
    ).toMatch(/\$labels\.sink/);
    expect(bad({ expr: 'sum by (sink) (rate(auditshipper_lines_read_total[5m]) > 0' })).toMatch(
      /unbalanced/,
    );
    expect(bad({ for: '5 minutes' })).toMatch(/bad for/);
  });
});

describe('deploy/prometheus/alerts.yaml', () => {
  it('has named groups with uniquely named rules', () => {
    expect(groups.length).toBeGreaterThan(0);
    const names = groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(groups.map((g) => g.name)).size).toBe(groups.length);
  });

  it.each(groups.flatMap((g) => g.rules).map((r) => [r.alert, r] as const))(
    '%s is sound',
    (_, rule) => {
      expect(ruleProblems(rule, metrics)).toEqual([]);
    },
  );

  it('alerts on each signal an operator needs', () => {
    const exprs = groups.flatMap((g) => g.rules.map((r) => r.expr)).join('\n');
    for (const m of [
      'up',
      'auditshipper_queue_oldest_age_seconds',
      'auditshipper_queue_depth_events',
      'auditshipper_sink_healthy',
      'auditshipper_dead_lettered_total',
      'auditshipper_dlq_events',
      'auditshipper_buffer_bytes',
      'auditshipper_buffer_max_bytes',
      'auditshipper_delivery_errors_total',
      'auditshipper_records_total',
      'auditshipper_events_unrouted_total',
      'auditshipper_config_reloads_total',
      'auditshipper_source_files_missing_at_start',
    ]) {
      expect(exprs).toMatch(new RegExp(`\\b${m}\\b`));
    }
  });

  const promtool = spawnSync('promtool', ['--version']).status === 0;
  it.skipIf(!promtool)('passes `promtool check rules`', () => {
    const r = spawnSync('promtool', ['check', 'rules', FILE], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
