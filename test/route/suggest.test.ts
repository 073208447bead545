import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from '../../src/route/suggest.js';

describe('editDistance', () => {
  it('counts inserts, deletes and substitutions, ignoring case', () => {
    expect(editDistance('splunk', 'splunk')).toBe(0);
    expect(editDistance('Splunk', 'splunk')).toBe(0);
    expect(editDistance('splnk', 'splunk')).toBe(1);
    expect(editDistance('splunkk', 'splunk')).toBe(1);
    expect(editDistance('spIunk', 'splunk')).toBe(1); // I lowercases to i, not l
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', '')).toBe(3);
  });
});

describe('closest', () => {
  const sinks = ['archive', 'datadog', 'splunk', 'siem'];
  it('suggests a near miss', () => {
    expect(closest('splnk', sinks)).toBe('splunk');
    expect(closest('datdog', sinks)).toBe('datadog');
    expect(closest('archiv', sinks)).toBe('archive');
  });
  it('suggests nothing for an unrelated name', () => {
    expect(closest('kafka', sinks)).toBeUndefined();
    expect(closest('', sinks)).toBeUndefined();
  });
  it('does not compare huge inputs', () => {
    expect(closest('a'.repeat(10_000), ['a'.repeat(10_000)])).toBeUndefined();
  });
  it('formats a hint', () => {
    expect(didYouMean('splnk', sinks)).toBe(' (did you mean "splunk"?)');
    expect(didYouMean('kafka', sinks)).toBe('');
  });
});

describe('closest with prefixes', () => {
  it('suggests a name the input extends or abbreviates', () => {
    expect(closest('warning', ['info', 'warn', 'critical'])).toBe('warn');
    expect(closest('crit', ['info', 'warn', 'critical'])).toBe('critical');
    expect(closest('ar', ['archive'])).toBeUndefined(); // too short to be a meaningful prefix
  });
});
