/**
 * SQL literal stripping: `'…'` strings, dollar-quoted bodies and numbers become `?`,
 * so query text keeps its shape and table names (its detection value) without the
 * values (research/redaction.md §6.8, the OpenTelemetry `db_sanitizer` idea).
 *
 * A single left-to-right pass, quoting-aware: double-quoted and back-quoted
 * identifiers, `$1` placeholders, `:name` binds and Retool `{{ … }}` templates are
 * kept; comments are removed (they can hold anything). An unterminated literal or
 * comment runs to the end of the text and is stripped: fail closed.
 */

function isIdent(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 95 ||
    c === 36 ||
    c >= 128
  );
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Prefixes that may precede a quote: E'…', N'…', B'…', X'…', U&'…'. */
function isLiteralPrefix(c: number): boolean {
  return (
    c === 69 || c === 101 || c === 78 || c === 110 || c === 66 || c === 98 || c === 88 || c === 120
  );
}

const SQL_WORD =
  /\b(?:select|insert|update|delete|merge|upsert|with|from|where|values|call|exec|execute)\b/i;

/**
 * True when `s` reads like a SQL statement. Only such text is stripped, so a search
 * box value that happens to sit under a `query` key keeps its numbers, and a masked
 * card (`************1111`) is not stripped again on a second pass.
 */
export function looksLikeSql(s: string): boolean {
  return SQL_WORD.test(s);
}

export interface SqlStripResult {
  text: string;
  /** Literals replaced (comments removed count too). */
  count: number;
}

export function stripSqlLiterals(sql: string): SqlStripResult {
  const n = sql.length;
  let out = '';
  let from = 0; // start of the pending verbatim run
  let count = 0;
  let i = 0;

  const emit = (start: number, end: number, replacement: string): void => {
    out += sql.slice(from, start) + replacement;
    from = end;
    i = end;
  };

  while (i < n) {
    const c = sql.charCodeAt(i);
    // '…' string literal: '' and \' escapes.
    if (c === 39) {
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (d === 92) j += 2;
        else if (d === 39) {
          if (sql.charCodeAt(j + 1) === 39) j += 2;
          else break;
        } else j++;
      }
      let start = i;
      // Swallow a one-letter prefix (E'…', N'…') that starts a token.
      if (
        i > 0 &&
        isLiteralPrefix(sql.charCodeAt(i - 1)) &&
        (i < 2 || !isIdent(sql.charCodeAt(i - 2)))
      ) {
        start = i - 1;
      } else if (i > 1 && sql.charCodeAt(i - 1) === 38 && (sql.charCodeAt(i - 2) | 32) === 117) {
        if (i < 3 || !isIdent(sql.charCodeAt(i - 3))) start = i - 2; // U&'…'
      }
      count++;
      emit(start, Math.min(j + 1, n), '?');
      continue;
    }
    // "…" and `…` identifiers: copy through.
    if (c === 34 || c === 96) {
      const close = sql.indexOf(String.fromCharCode(c), i + 1);
      i = close === -1 ? n : close + 1;
      continue;
    }
    // -- line comment
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const nl = sql.indexOf('\n', i + 2);
      count++;
      emit(i, nl === -1 ? n : nl, '');
      continue;
    }
    // /* block comment */
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const close = sql.indexOf('*/', i + 2);
      count++;
      emit(i, close === -1 ? n : close + 2, ' ');
      continue;
    }
    // {{ template }}: Retool's own expressions, not values.
    if (c === 123 && sql.charCodeAt(i + 1) === 123) {
      const close = sql.indexOf('}}', i + 2);
      i = close === -1 ? n : close + 2;
      continue;
    }
    if (c === 36) {
      // $1 placeholder: keep.
      if (isDigit(sql.charCodeAt(i + 1))) {
        i += 2;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      // $tag$ … $tag$ dollar quoting (tag may be empty).
      if (i === 0 || !isIdent(sql.charCodeAt(i - 1))) {
        let t = i + 1;
        while (t < n && t - i <= 64 && isIdent(sql.charCodeAt(t)) && sql.charCodeAt(t) !== 36) t++;
        if (t < n && sql.charCodeAt(t) === 36) {
          const tag = sql.slice(i, t + 1);
          const close = sql.indexOf(tag, t + 1);
          count++;
          emit(i, close === -1 ? n : close + tag.length, '?');
          continue;
        }
      }
      i++;
      continue;
    }
    // A number that starts a token (not the 1 in t1): 42, 3.14, .5, 1e-3, 0x1F.
    if (
      isDigit(c) ||
      (c === 46 && isDigit(sql.charCodeAt(i + 1)) && (i === 0 || !isIdent(sql.charCodeAt(i - 1))))
    ) {
      if (i > 0 && isIdent(sql.charCodeAt(i - 1))) {
        i++;
        continue;
      }
      let j = i;
      if (c === 48 && (sql.charCodeAt(i + 1) | 32) === 120) {
        j = i + 2;
        while (j < n && isIdent(sql.charCodeAt(j))) j++;
      } else {
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        if (sql.charCodeAt(j) === 46) {
          j++;
          while (j < n && isDigit(sql.charCodeAt(j))) j++;
        }
        const e = sql.charCodeAt(j) | 32;
        if (e === 101) {
          let k = j + 1;
          const sign = sql.charCodeAt(k);
          if (sign === 43 || sign === 45) k++;
          if (isDigit(sql.charCodeAt(k))) {
            j = k;
            while (j < n && isDigit(sql.charCodeAt(j))) j++;
          }
        }
        // 12abc is an identifier-ish token, not a number: keep.
        if (j < n && isIdent(sql.charCodeAt(j))) {
          while (j < n && isIdent(sql.charCodeAt(j))) j++;
          i = j;
          continue;
        }
      }
      count++;
      emit(i, j, '?');
      continue;
    }
    i++;
  }
  if (count === 0) return { text: sql, count: 0 };
  return { text: out + sql.slice(from), count };
}
