import { describe, expect, it } from 'vitest';
import { looksLikeSql, stripSqlLiterals } from '../../src/redact/sql.js';

describe('stripSqlLiterals', () => {
  it.each([
    [
      "SELECT * FROM t WHERE email='jane@x.com' AND ssn='123-45-6789' AND id=42",
      'SELECT * FROM t WHERE email=? AND ssn=? AND id=?',
    ],
    ["WHERE name = 'O''Brien' LIMIT 10", 'WHERE name = ? LIMIT ?'],
    ["WHERE p = 'a\\'b' AND q = 1", 'WHERE p = ? AND q = ?'],
    ["WHERE x = E'\\n' OR y = N'z'", 'WHERE x = ? OR y = ?'],
    ['SELECT 3.14, .5, 1e-3, -7, 0x1F', 'SELECT ?, ?, ?, -?, ?'],
    ['SELECT t1.col2 FROM t1 WHERE "Col 3" = $1', 'SELECT t1.col2 FROM t1 WHERE "Col 3" = $1'],
    ['SELECT `a1` FROM b2 WHERE c = :name', 'SELECT `a1` FROM b2 WHERE c = :name'],
    [
      'WHERE id = {{ table1.selectedRow.id }} AND n > 5',
      'WHERE id = {{ table1.selectedRow.id }} AND n > ?',
    ],
    ['SELECT $$secret body$$, $tag$x$tag$', 'SELECT ?, ?'],
    ["SELECT 1 -- password is 'hunter2'\nFROM t", 'SELECT ? \nFROM t'],
    ['SELECT /* key 123 */ a FROM t', 'SELECT   a FROM t'],
    ["WHERE x = 'unterminated secret", 'WHERE x = ?'],
    ['SELECT a /* unterminated secret', 'SELECT a  '],
    ['SELECT 12abc FROM t', 'SELECT 12abc FROM t'],
    ['SELECT émoji🔑 FROM t WHERE v = 7', 'SELECT émoji🔑 FROM t WHERE v = ?'],
  ])('%s', (input, expected) => {
    const r = stripSqlLiterals(input);
    expect(r.text).toBe(expected);
    // Idempotent.
    expect(stripSqlLiterals(r.text)).toEqual({ text: r.text, count: 0 });
  });

  it('counts and leaves literal-free text as is', () => {
    expect(stripSqlLiterals("a = 'x' AND b = 2").count).toBe(2);
    const s = 'SELECT a FROM b';
    expect(stripSqlLiterals(s)).toEqual({ text: s, count: 0 });
  });

  it('is linear on hostile input', () => {
    for (const unit of ["'", '$a', '$$', '/*', '--', '"', '{{', '1.', 'x1']) {
      const r = stripSqlLiterals(unit.repeat(50_000));
      expect(typeof r.text).toBe('string');
    }
  });
});

describe('looksLikeSql', () => {
  it.each([
    ['SELECT 1', true],
    ['update t set a = 1', true],
    ['with x as (select 1) select * from x', true],
    ['************1111', false],
    ['customer 4711', false],
    ['selected items', false],
  ])('%s', (s, expected) => {
    expect(looksLikeSql(s)).toBe(expected);
  });
});
