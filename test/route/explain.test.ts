import { describe, expect, it } from 'vitest';
import { formatExplanation, type Explanation } from '../../src/route/explain.js';

const base: Explanation = {
  kind: 'audit',
  routes: [],
  matched: [],
  sinks: [],
  defaultApplied: false,
  unrouted: true,
  stoppedBy: null,
};

describe('formatExplanation', () => {
  it('lists matched routes with their sinks and nested reasons', () => {
    const text = formatExplanation({
      ...base,
      routes: [
        {
          name: 'prod',
          status: 'matched',
          final: true,
          to: ['datadog', 'siem'],
          conditions: [
            {
              matched: true,
              text: 'any of',
              children: [
                { matched: false, text: 'action "A" does not equal "B"' },
                { matched: true, text: 'target.resource "prod-pg" matches glob "prod-*"' },
              ],
            },
            { matched: true, text: 'min_severity: severity warn >= warn' },
          ],
        },
        { name: 'later', status: 'skipped', final: false, to: ['archive'], conditions: [] },
      ],
      matched: ['prod'],
      sinks: ['datadog', 'siem'],
      unrouted: false,
      stoppedBy: 'prod',
    });
    expect(text).toBe(
      [
        'route "prod": matched, final → datadog, siem',
        '  ✓ any of:',
        '    ✗ action "A" does not equal "B"',
        '    ✓ target.resource "prod-pg" matches glob "prod-*"',
        '  ✓ min_severity: severity warn >= warn',
        'route "later": skipped (route "prod" matched and is final)',
        'sinks: datadog, siem',
      ].join('\n'),
    );
  });

  it('says when routes_default applied', () => {
    const text = formatExplanation({
      ...base,
      routes: [
        {
          name: 'q',
          status: 'not_matched',
          final: false,
          to: ['x'],
          conditions: [{ matched: false, text: 'action "A" does not equal "B"' }],
        },
      ],
      sinks: ['archive'],
      defaultApplied: true,
      unrouted: false,
    });
    expect(text.split('\n')).toEqual([
      'route "q": not matched',
      '  ✗ action "A" does not equal "B"',
      'no route matched: routes_default → archive',
    ]);
  });

  it('never hides an unrouted event', () => {
    expect(formatExplanation(base)).toBe(
      'no routes configured\nno route matched and routes_default is not set: unrouted (counted, delivered nowhere)',
    );
    expect(formatExplanation({ ...base, kind: 'non_audit' })).toBe(
      'no non_audit routes configured\nno non_audit route matched: dropped (counted)',
    );
  });

  it('notes routes without conditions', () => {
    const text = formatExplanation({
      ...base,
      kind: 'non_audit',
      routes: [{ name: 'noise', status: 'matched', final: false, to: ['siem'], conditions: [] }],
      matched: ['noise'],
      sinks: ['siem'],
      unrouted: false,
    });
    expect(text).toBe(
      'route "noise": matched → siem (no conditions: matches every line)\nsinks: siem',
    );
  });
});
