/**
 * Content detectors: find secrets and personal data inside string values and report
 * them as spans to replace.
 *
 * Every detector runs on the original text and only reports spans; `applySpans`
 * then resolves overlaps and rewrites the string once. Replacement tokens already in
 * the text are protected (see tokens.ts), which with the token shapes chosen here
 * makes a second pass a no-op.
 *
 * Safety against catastrophic backtracking (research/redaction.md §6.5): the
 * built-in patterns are either hand-written scanners (cards, e-mail, URL userinfo,
 * key=value, PEM blocks) or V8 regexes of one of two linear shapes:
 *   - a literal prefix guarded by a look-behind whose class contains the body's
 *     class, then a greedy body with nothing after it, so each run of token
 *     characters is scanned by at most one attempt;
 *   - fixed or small bounded repeats ({1,4}, {40}) with a look-behind that forbids
 *     starting inside a run.
 * No pattern has nested unbounded quantifiers. User-supplied patterns run on
 * re2js, a linear-time RE2 port. Callers cap the string length before scanning
 * (limits.max_string_length), and test/redact/detectors.test.ts feeds every
 * detector 128 KiB of its own worst-case prefix repeated.
 *
 * A cheap single pass over the characters first computes a few counts (digits,
 * `@`, `:`, `=`, longest token run…) that gate each detector, so a typical short
 * value costs one loop and no regex at all.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { RE2JS } from 're2js';
import type { Hasher } from './hash.js';
import { MASK, findProtectedSpans } from './tokens.js';

/** A replacement: `text` replaces s[start, end); `rule` is reported, never the value. */
export interface Span {
  start: number;
  end: number;
  text: string;
  rule: string;
}

/** Receives one call per replacement made. */
export interface Tally {
  add(rule: string): void;
}

export type EmailPolicy = 'hash' | 'mask' | 'keep';
export type IpPolicy = 'keep' | 'hash' | 'truncate';

export interface CustomDetector {
  /** Reported rule name, e.g. `custom:employee_id`. */
  rule: string;
  re: RE2JS;
  replace: string;
}

export interface DetectorOptions {
  card: boolean;
  ssn: boolean;
  jwt: boolean;
  bearer: boolean;
  basic_auth: boolean;
  aws: boolean;
  vendor_tokens: boolean;
  private_key: boolean;
  url_credentials: boolean;
  /** always_secret_keys applied to `name=value` / `name: value` text. */
  secret_key_text: boolean;
  email: EmailPolicy;
  ip: IpPolicy;
  hasher: Hasher | null;
  /** True when a name (key, URL parameter) marks its value as a credential. */
  isSecretName: (name: string) => boolean;
  /** True when a URL query parameter name marks a credential (credential names plus `sig`, `code`…). */
  isUrlSecretName: (name: string) => boolean;
  custom: readonly CustomDetector[];
}

// ---------------------------------------------------------------------------
// Character classes for the gating pass and the hand-written scanners.

const C_DIGIT = 1;
const C_ALPHA = 2;
const C_WORDX = 4; // _ -
const C_B64X = 8; // / +
const C_AT = 16;
const C_COLON = 32;
const C_DOT = 64;
const C_EQ = 128;
const C_DASH = 256;
const C_SPACE = 512;
/** A-Z: AWS key ids start with four capitals, and a random secret holds some. */
const C_UPPER = 1024;
/** A letter a vendor token can start with (see VENDOR_RE): g x s r w A n S h. */
const C_VSTART = 2048;
const CLS = new Uint16Array(128);
for (let c = 48; c <= 57; c++) CLS[c] = C_DIGIT;
for (let c = 65; c <= 90; c++) CLS[c] = C_ALPHA | C_UPPER;
for (let c = 97; c <= 122; c++) CLS[c] = C_ALPHA;
for (const ch of 'gxsrwAnSh') CLS[ch.charCodeAt(0)]! |= C_VSTART;
CLS[95] = C_WORDX;
CLS[45] = C_WORDX | C_DASH;
CLS[47] = C_B64X;
CLS[43] = C_B64X;
CLS[64] = C_AT;
CLS[58] = C_COLON;
CLS[46] = C_DOT;
CLS[61] = C_EQ;
CLS[32] = C_SPACE;
CLS[9] = C_SPACE;

const WORD = C_DIGIT | C_ALPHA | C_WORDX;
/** Characters of the tokens the prefix/run detectors look for: alnum _ - / +. */
const TOKEN = C_DIGIT | C_ALPHA | C_WORDX | C_B64X;

function isAlnum(c: number): boolean {
  return c < 128 && (CLS[c]! & (C_DIGIT | C_ALPHA)) !== 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// ---------------------------------------------------------------------------
// Payment cards: IIN prefix + length + Luhn, consistent separators, last four kept
// (PCI DSS v4 3.4.1; research/redaction.md §6.4, §6.6).

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** True when `digits` has the prefix and length of a card scheme. */
export function cardSchemeMatches(digits: string): boolean {
  return schemeMatches(digits, digits.length);
}

/** `prefix`: at least the first six digits; `len`: the number's length. */
function schemeMatches(prefix: string, len: number): boolean {
  if (len < 13 || len > 19) return false;
  const d = (i: number): number => prefix.charCodeAt(i) - 48;
  const p1 = d(0);
  const p2 = p1 * 10 + d(1);
  const p3 = p2 * 10 + d(2);
  const p4 = p3 * 10 + d(3);
  const p6 = (p4 * 10 + d(4)) * 10 + d(5);
  if (p1 === 4) return len === 13 || len === 16 || len === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return len === 16; // Mastercard
  if (p4 >= 2200 && p4 <= 2204) return len >= 16 && len <= 19; // Mir
  if (p2 === 34 || p2 === 37) return len === 15; // Amex
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14; // Diners
  if (p4 >= 3528 && p4 <= 3589) return len >= 16; // JCB
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65 || (p6 >= 622126 && p6 <= 622925)) {
    return len >= 16; // Discover
  }
  if (p2 === 62) return len >= 16; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return true; // Maestro (13-19 here)
  return false;
}

export function isCardNumber(digits: string): boolean {
  return luhnValid(digits) && cardSchemeMatches(digits);
}

/** Mask every digit but the last four, keeping separators: `****-****-****-4444`. */
export function maskCard(text: string): string {
  let keep = 4;
  let out = '';
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      out = (keep > 0 ? text[i]! : '*') + out;
      keep--;
    } else out = text[i]! + out;
  }
  return out;
}

/**
 * Cards in text. A hand-written scanner, linear in the text: it reads each chain of
 * digit groups joined by single spaces or dashes once, then tries windows of
 * consecutive groups (at most 19 digits, so at most 19 groups each) with one
 * separator throughout. Dash-joined windows must be the whole dash chain, so
 * UUID-like ids are never taken apart; space-joined windows may sit inside longer
 * runs of numbers ("ref 12 4111 1111 1111 1111", two cards in a row).
 */
function findCards(s: string, out: Span[]): void {
  const n = s.length;
  let i = 0;
  while (i < n) {
    while (i < n && !isDigit(s.charCodeAt(i))) i++;
    if (i >= n) return;
    const start = i;
    // First read: where the chain ends and how many digits it holds (most are short).
    let j = start;
    let total = 0;
    let groups = 0;
    let spaced = false;
    for (;;) {
      const gs = j;
      while (j < n && isDigit(s.charCodeAt(j))) j++;
      total += j - gs;
      groups++;
      const c = s.charCodeAt(j);
      if ((c === 32 || c === 45) && isDigit(s.charCodeAt(j + 1))) {
        if (c === 32) spaced = true;
        j++;
        continue;
      }
      break;
    }
    i = j + 1;
    if (total < 13) continue;
    // A pure dash chain can only be a card as a whole.
    if (!spaced && groups > 1 && total > 19) continue;
    // Second read: the groups and separators.
    const starts = new Int32Array(groups);
    const ends = new Int32Array(groups);
    const seps = new Int32Array(groups);
    let k = start;
    for (let g = 0; g < groups; g++) {
      starts[g] = k;
      while (k < j && isDigit(s.charCodeAt(k))) k++;
      ends[g] = k;
      seps[g] = s.charCodeAt(k);
      k++;
    }
    const gluedLeft = start > 0 && isAlnum(s.charCodeAt(start - 1));
    const gluedRight = j < n && isAlnum(s.charCodeAt(j));
    const last = gluedRight ? groups - 2 : groups - 1;
    for (let a = gluedLeft ? 1 : 0; a <= last; a++) {
      let sum = 0;
      let sep = 0;
      let best = -1;
      for (let b = a; b <= last; b++) {
        sum += ends[b]! - starts[b]!;
        if (sum > 19) break;
        if (b > a) {
          if (sep === 0) sep = seps[b - 1]!;
          else if (seps[b - 1] !== sep) break;
        }
        if (sum < 13) continue;
        if (sep === 45 && ((a > 0 && seps[a - 1] === 45) || (b < groups - 1 && seps[b] === 45)))
          continue;
        if (windowIsCard(s, starts, ends, a, b, sum)) best = b;
      }
      if (best !== -1) {
        const ws = starts[a]!;
        const we = ends[best]!;
        out.push({ start: ws, end: we, text: maskCard(s.slice(ws, we)), rule: 'card' });
        a = best;
      }
    }
  }
}

/** Luhn and scheme over groups a..b of `s` without building the digit string. */
function windowIsCard(
  s: string,
  starts: Int32Array,
  ends: Int32Array,
  a: number,
  b: number,
  len: number,
): boolean {
  let sum = 0;
  let dbl = false;
  for (let g = b; g >= a; g--) {
    for (let k = ends[g]! - 1; k >= starts[g]!; k--) {
      let d = s.charCodeAt(k) - 48;
      if (dbl) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
      dbl = !dbl;
    }
  }
  if (sum % 10 !== 0) return false;
  let prefix = '';
  for (let g = a; g <= b && prefix.length < 6; g++) {
    prefix += s.slice(starts[g], Math.min(ends[g]!, starts[g]! + 6 - prefix.length));
  }
  return schemeMatches(prefix, len);
}

/**
 * A card stored as a JSON number. Safe integers are checked like text; integers
 * beyond 2^53 have lost digits in parsing, so a card-shaped one is masked whole.
 */
export function cardNumberValue(n: number): string | null {
  if (!Number.isInteger(n) || n < 1e12 || n >= 1e19) return null;
  // No card scheme starts with 1, 7, 8 or 9 (schemeMatches), and epoch times in ms, µs
  // and ns (in most events) all start with 1 until 2033: answer those without
  // building the digit string. `p` is the power of ten of the leading digit; the
  // comparisons are exact (powers of ten up to 1e18 and their small multiples are
  // doubles), so this is the leading digit of the exact value, as BigInt would print it.
  let p = 1e12;
  while (n >= p * 10) p *= 10;
  if (n < 2 * p || n >= 7 * p) return null;
  if (n <= Number.MAX_SAFE_INTEGER) {
    const d = String(n);
    return isCardNumber(d) ? maskCard(d) : null;
  }
  const d = BigInt(n).toString();
  return cardSchemeMatches(d) ? MASK : null;
}

// ---------------------------------------------------------------------------
// US SSN: AAA-GG-SSSS (same separator), word boundaries, no area 000/666/9xx,
// group 00 or serial 0000 (there is no checksum; research/redaction.md §6.4).

const SSN_RE = /(?<![0-9A-Za-z])([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})(?![0-9A-Za-z])/g;

function findSsns(s: string, out: Span[]): void {
  SSN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = SSN_RE.exec(s)) !== null) {
    const area = m[1]!;
    if (area === '000' || area === '666' || area[0] === '9' || m[3] === '00' || m[4] === '0000')
      continue;
    // 1123-45-67890 style: part of a longer dash chain.
    const end = m.index + m[0].length;
    if (m[2] === '-' && (s.charCodeAt(end) === 45 || s.charCodeAt(m.index - 1) === 45)) {
      if (isDigit(s.charCodeAt(end + 1)) || isDigit(s.charCodeAt(m.index - 2))) continue;
    }
    out.push({ start: m.index, end, text: MASK, rule: 'ssn' });
  }
}

// ---------------------------------------------------------------------------
// JWT: base64url header starting `eyJ` ({"), payload, optional signature.

const JWT_RE = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

function findJwts(s: string, out: Span[]): void {
  JWT_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = JWT_RE.exec(s)) !== null) {
    const text = m[0];
    const d1 = text.indexOf('.');
    const d2 = text.indexOf('.', d1 + 1);
    if (d1 < 10 || d2 - d1 - 1 < 4) continue;
    out.push({ start: m.index, end: m.index + text.length, text: MASK, rule: 'jwt' });
  }
}

// ---------------------------------------------------------------------------
// Authorization schemes in text: `Bearer <token>`, `Basic <base64 user:pass>`.
// The scheme word is kept; the credential is replaced.

const AUTH_RE = /(?<![A-Za-z0-9_-])(bearer|basic)[ \t]{1,4}([A-Za-z0-9._~+/-]+=*)/gi;

/**
 * Cheap pre-check before the scheme regex: one native pass, and as case-blind as
 * AUTH_RE itself (a `bEaReR` header is still a credential).
 */
const AUTH_WORD_RE = /bearer|basic/i;
function mentionsAuthScheme(s: string): boolean {
  return AUTH_WORD_RE.test(s);
}

function findAuthSchemes(s: string, out: Span[], bearer: boolean, basic: boolean): void {
  AUTH_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = AUTH_RE.exec(s)) !== null) {
    const scheme = m[1]!.toLowerCase();
    const token = m[2]!;
    const start = m.index + m[0].length - token.length;
    if (scheme === 'bearer') {
      if (!bearer || token.length < 8 || !/[0-9._~+/=-]/.test(token)) continue;
      out.push({ start, end: start + token.length, text: MASK, rule: 'bearer' });
    } else {
      if (!basic || token.length < 6 || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) continue;
      const decoded = Buffer.from(token, 'base64').toString('latin1');
      if (!decoded.includes(':') || !/^[\x20-\x7e\x80-\xff]+$/.test(decoded)) continue;
      out.push({ start, end: start + token.length, text: MASK, rule: 'basic_auth' });
    }
  }
}

// ---------------------------------------------------------------------------
// AWS: access key ids by their documented prefixes; secret access keys as an
// isolated 40-character base64 run that looks random.

const AWS_KEY_ID_RE =
  /(?<![A-Za-z0-9_-])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|AKPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9_-])/g;
const AWS_SECRET_RE = /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;

function looksRandom40(t: string): boolean {
  let upper = false;
  let lower = false;
  let digit = false;
  const seen = new Set<number>();
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
    else if (c >= 97 && c <= 122) lower = true;
    else if (c >= 48 && c <= 57) digit = true;
    seen.add(c);
  }
  // 40 random base64 characters have ~30 distinct values (≥ 24 in 99.8% of draws);
  // words and URL paths of that length have ~20.
  return upper && lower && digit && seen.size >= 24;
}

function findAws(s: string, out: Span[], keyIds: boolean, secrets: boolean): void {
  let m: RegExpExecArray | null;
  if (keyIds) {
    AWS_KEY_ID_RE.lastIndex = 0;
    while ((m = AWS_KEY_ID_RE.exec(s)) !== null) {
      out.push({ start: m.index, end: m.index + m[0].length, text: MASK, rule: 'aws' });
    }
  }
  if (secrets) {
    AWS_SECRET_RE.lastIndex = 0;
    while ((m = AWS_SECRET_RE.exec(s)) !== null) {
      if (looksRandom40(m[0]))
        out.push({ start: m.index, end: m.index + 40, text: MASK, rule: 'aws' });
    }
  }
}

// ---------------------------------------------------------------------------
// Vendor tokens with documented, recognisable prefixes.

const VENDOR_RE = new RegExp(
  '(?<![A-Za-z0-9_-])(?:' +
    [
      'gh[pousr]_[A-Za-z0-9]{36,}', // GitHub classic tokens
      'github_pat_[A-Za-z0-9_]{22,}', // GitHub fine-grained PAT
      'xox[abposre]-[A-Za-z0-9-]{10,}', // Slack tokens
      'xapp-[0-9]-[A-Za-z0-9-]{10,}', // Slack app-level token
      '(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}', // Stripe secret / restricted keys
      'whsec_[A-Za-z0-9]{24,}', // Stripe webhook secret
      'AIza[A-Za-z0-9_-]{35}', // Google API key
      'glpat-[A-Za-z0-9_-]{20,}', // GitLab PAT
      'npm_[A-Za-z0-9]{36,}', // npm token
      'sk-[A-Za-z0-9_-]{32,}', // OpenAI / Anthropic style
      'SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}', // SendGrid
      'shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}', // Shopify
      'hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,}', // Slack webhook URL
    ].join('|') +
    ')',
  'g',
);

function findVendorTokens(s: string, out: Span[]): void {
  VENDOR_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = VENDOR_RE.exec(s)) !== null) {
    let start = m.index;
    const text = m[0];
    // Keep the Slack webhook host, replace the secret path.
    if (text.startsWith('hooks.')) start = text.indexOf('/') + m.index + 1;
    out.push({ start, end: m.index + text.length, text: MASK, rule: 'vendor_tokens' });
  }
}

// ---------------------------------------------------------------------------
// PEM private key blocks (RSA, EC, OpenSSH, PKCS#8, encrypted, PGP). A block with no
// END line is redacted to the end of the text: fail closed.

function findPrivateKeys(s: string, out: Span[]): void {
  let p = s.indexOf('-----BEGIN ');
  while (p !== -1) {
    const headEnd = s.indexOf('-----', p + 11);
    if (headEnd === -1) return;
    if (headEnd - p > 80 || !s.slice(p + 11, headEnd).includes('PRIVATE KEY')) {
      p = s.indexOf('-----BEGIN ', headEnd);
      continue;
    }
    let end = s.indexOf('-----END', headEnd + 5);
    if (end === -1) end = s.length;
    else {
      const close = s.indexOf('-----', end + 8);
      end = close === -1 || close - end > 80 ? s.length : close + 5;
    }
    out.push({ start: p, end, text: MASK, rule: 'private_key' });
    p = s.indexOf('-----BEGIN ', end);
  }
}

// ---------------------------------------------------------------------------
// URL userinfo: scheme://user:password@host → the password is replaced; a lone
// long userinfo (a token used as user name) too. Returns the authority ranges so
// the e-mail scanner does not read `user@host` as an address.

function isAuthorityEnd(c: number): boolean {
  // / ? # whitespace " ' < > \ and controls
  return (
    c === 47 ||
    c === 63 ||
    c === 35 ||
    c <= 32 ||
    c === 34 ||
    c === 39 ||
    c === 60 ||
    c === 62 ||
    c === 92
  );
}

function findUserinfo(s: string, out: Span[] | null, authorities: number[]): void {
  let p = s.indexOf('://');
  while (p !== -1) {
    const a = p + 3;
    let e = a;
    let at = -1;
    while (e < s.length && e - a < 2048) {
      const c = s.charCodeAt(e);
      if (isAuthorityEnd(c)) break;
      if (c === 64) at = e;
      e++;
    }
    if (at > a) {
      authorities.push(a, e);
      if (out !== null) {
        const colon = s.indexOf(':', a);
        if (colon !== -1 && colon < at - 1) {
          out.push({ start: colon + 1, end: at, text: MASK, rule: 'url_credentials' });
        } else if (colon === -1 || colon > at) {
          if (at - a >= 16) out.push({ start: a, end: at, text: MASK, rule: 'url_credentials' });
        }
      }
    }
    p = s.indexOf('://', Math.max(e, a));
  }
}

// ---------------------------------------------------------------------------
// key=value, key: value, "key": "value" in free text, form bodies, cookies, URL
// query strings and JSON that did not parse. The name decides: a credential name
// (same rules as always-secret keys) has its value replaced. A name right after
// `?`, `&` or `#` is a URL parameter and reported as url_credentials.

function isNameChar(c: number): boolean {
  return c < 128 && ((CLS[c]! & WORD) !== 0 || c === 46 || c === 91 || c === 93);
}

function isEqValueEnd(c: number): boolean {
  // whitespace & ; , " ' < > ) ] } #
  return (
    c <= 32 ||
    c === 38 ||
    c === 59 ||
    c === 44 ||
    c === 34 ||
    c === 39 ||
    c === 60 ||
    c === 62 ||
    c === 41 ||
    c === 93 ||
    c === 125 ||
    c === 35
  );
}

function isColonValueEnd(c: number): boolean {
  // end of line , ; " ' } ]
  return (
    c === 10 || c === 13 || c === 44 || c === 59 || c === 34 || c === 39 || c === 125 || c === 93
  );
}

function closingQuote(s: string, from: number, q: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++;
    else if (c === q) return i;
  }
  return s.length;
}

/** Index after the bracket that closes the one at `from` (quote-aware), or the end. */
function closingBracket(s: string, from: number): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 39) i = closingQuote(s, i + 1, c);
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      if (--depth === 0) return i + 1;
    }
  }
  return s.length;
}

function findKeyValues(s: string, out: Span[], o: DetectorOptions): void {
  const n = s.length;
  // Next '=' and ':' found with indexOf (native, fast), advanced lazily.
  let nextEq = s.indexOf('=');
  let nextColon = s.indexOf(':');
  let i = 0;
  while (i < n) {
    if (nextEq !== -1 && nextEq < i) nextEq = s.indexOf('=', i);
    if (nextColon !== -1 && nextColon < i) nextColon = s.indexOf(':', i);
    if (nextEq === -1 && nextColon === -1) return;
    i = nextEq === -1 ? nextColon : nextColon === -1 ? nextEq : Math.min(nextEq, nextColon);
    const sep = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (next === sep || (sep === 58 && next === 47)) {
      i += 2; // == :: ://
      continue;
    }
    // The name, walking back: optional spaces, optional closing quote, name chars.
    let j = i - 1;
    if (j >= 0 && (s.charCodeAt(j) === 32 || s.charCodeAt(j) === 9)) j--;
    let q = 0;
    if (j >= 0 && (s.charCodeAt(j) === 34 || s.charCodeAt(j) === 39)) q = s.charCodeAt(j--);
    const nameEnd = j + 1;
    while (j >= 0 && nameEnd - j <= 65 && isNameChar(s.charCodeAt(j))) j--;
    const nameStart = j + 1;
    const first = s.charCodeAt(nameStart);
    if (
      nameEnd - nameStart < 2 ||
      nameEnd - nameStart > 64 ||
      !(first < 128 && (CLS[first]! & C_ALPHA) !== 0) ||
      (q !== 0 && (j < 0 || s.charCodeAt(j) !== q))
    ) {
      i++;
      continue;
    }
    const before = q !== 0 ? -1 : j >= 0 ? s.charCodeAt(j) : -1;
    const inUrl = before === 63 || before === 38 || before === 35; // ? & #
    const name = s.slice(nameStart, nameEnd);
    let rule: string | null = null;
    if (inUrl && o.url_credentials && o.isUrlSecretName(name)) {
      rule = 'url_credentials';
    } else if (o.secret_key_text && o.isSecretName(name)) {
      rule = 'secret_key';
    }
    if (rule === null) {
      i++;
      continue;
    }
    // The value: optional spaces, then quoted or up to a delimiter.
    let k = i + 1;
    if (k < n && (s.charCodeAt(k) === 32 || s.charCodeAt(k) === 9)) k++;
    if (k < n && (s.charCodeAt(k) === 32 || s.charCodeAt(k) === 9)) k++;
    const vq = s.charCodeAt(k);
    let vs: number;
    let ve: number;
    let resume: number;
    if (vq === 34 || vq === 39) {
      vs = k + 1;
      ve = closingQuote(s, vs, vq);
      resume = ve + 1;
    } else if (vq === 123 || vq === 91) {
      // An object or list under a credential name (JSON that did not parse): all of it.
      vs = k;
      ve = closingBracket(s, k);
      // Anything glued after the bracket belongs to the value too.
      const isEnd = sep === 61 ? isEqValueEnd : isColonValueEnd;
      while (ve < n && s.charCodeAt(ve) > 32 && !isEnd(s.charCodeAt(ve))) ve++;
      resume = ve;
    } else {
      vs = k;
      ve = k;
      if (sep === 61) while (ve < n && !isEqValueEnd(s.charCodeAt(ve))) ve++;
      else while (ve < n && !isColonValueEnd(s.charCodeAt(ve))) ve++;
      // Trailing spaces before a delimiter are not part of the value.
      while (ve > vs && s.charCodeAt(ve - 1) === 32) ve--;
      resume = ve;
    }
    // A lone `?` is a stripped SQL literal or a bind placeholder: nothing to hide.
    if (ve > vs && !(ve - vs === 1 && s.charCodeAt(vs) === 63))
      out.push({ start: vs, end: ve, text: MASK, rule });
    i = Math.max(resume, i + 1);
  }
}

// ---------------------------------------------------------------------------
// E-mail addresses: scan out from each `@`. Local part ≤ 64 chars, domain of
// labels with a letter TLD of ≥ 2 chars. Non-ASCII letters are allowed (IDN);
// surrogate pairs (emoji) end a part.

function isLocalChar(c: number): boolean {
  if (c < 128)
    return (
      (CLS[c]! & (C_DIGIT | C_ALPHA)) !== 0 ||
      c === 46 ||
      c === 95 ||
      c === 37 ||
      c === 43 ||
      c === 45
    );
  return c >= 0xc0 && (c < 0xd800 || c > 0xdfff) && c !== 0xfeff;
}

function isDomainChar(c: number): boolean {
  if (c < 128) return (CLS[c]! & (C_DIGIT | C_ALPHA)) !== 0 || c === 46 || c === 45;
  return c >= 0xc0 && (c < 0xd800 || c > 0xdfff) && c !== 0xfeff;
}

/** File names that look like addresses: icon@2x.png, bundle@1.2.js. */
const NOT_TLDS = new Set([
  'png',
  'jpg',
  'jpeg',
  'gif',
  'svg',
  'webp',
  'ico',
  'bmp',
  'js',
  'mjs',
  'css',
  'map',
  'json',
  'html',
  'txt',
  'pdf',
]);

interface EmailHit {
  start: number;
  domainStart: number;
  end: number;
}

function nextEmail(s: string, from: number, authorities: number[]): EmailHit | null {
  let at = s.indexOf('@', from);
  while (at !== -1) {
    let inAuthority = false;
    for (let a = 0; a < authorities.length; a += 2) {
      if (at >= authorities[a]! && at < authorities[a + 1]!) inAuthority = true;
    }
    let l = at;
    while (l > 0 && at - l < 64 && isLocalChar(s.charCodeAt(l - 1))) l--;
    while (l < at && s.charCodeAt(l) === 46) l++; // no leading dot
    let r = at + 1;
    while (r < s.length && r - at <= 253 && isDomainChar(s.charCodeAt(r))) r++;
    // Trim trailing dots and dashes (end of a sentence).
    while (r > at + 1 && (s.charCodeAt(r - 1) === 46 || s.charCodeAt(r - 1) === 45)) r--;
    if (!inAuthority && l < at && s.charCodeAt(at - 1) !== 46 && r > at + 1) {
      const domain = s.slice(at + 1, r);
      const dot = domain.lastIndexOf('.');
      const tld = domain.slice(dot + 1);
      if (
        dot > 0 &&
        tld.length >= 2 &&
        !/[0-9_-]/.test(tld) &&
        !domain.includes('..') &&
        !NOT_TLDS.has(tld.toLowerCase())
      ) {
        return { start: l, domainStart: at + 1, end: r };
      }
    }
    at = s.indexOf('@', Math.max(at + 1, r));
  }
  return null;
}

function findEmails(s: string, out: Span[], o: DetectorOptions, authorities: number[]): void {
  let from = 0;
  let hit: EmailHit | null;
  while ((hit = nextEmail(s, from, authorities)) !== null) {
    if (o.email === 'hash' && o.hasher !== null) {
      const addr = s.slice(hit.start, hit.end).toLowerCase();
      out.push({ start: hit.start, end: hit.end, text: o.hasher.token(addr), rule: 'email' });
    } else {
      out.push({ start: hit.start, end: hit.domainStart - 1, text: MASK, rule: 'email' });
    }
    from = hit.end;
  }
}

// ---------------------------------------------------------------------------
// IP addresses (policy keep | hash | truncate to /24 and /48).

const IPV4_RE = /(?<![0-9A-Za-z.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z]|\.[0-9])/g;
/** Candidate IPv6 runs; validated by node:net. Bounded, and cannot start inside a run. */
const IPV6_RE = /(?<![0-9A-Za-z:.])[0-9A-Fa-f:.]{2,45}(?![0-9A-Za-z:.])/g;

/** /24 for IPv4, /48 for IPv6 (IPv4-mapped addresses truncate their IPv4 part). */
export function truncateIp(ip: string): string {
  if (isIPv4(ip)) return ip.slice(0, ip.lastIndexOf('.')) + '.0';
  const lower = ip.toLowerCase();
  const mapped = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (mapped !== null && isIPv4(mapped[2]!)) return mapped[1]! + truncateIp(mapped[2]!);
  const groups = expandIpv6(lower);
  return `${groups[0]}:${groups[1]}:${groups[2]}::`;
}

function expandIpv6(ip: string): string[] {
  const dbl = ip.indexOf('::');
  const parse = (part: string): string[] =>
    part === '' ? [] : part.split(':').map((g) => String(parseInt(g, 16).toString(16)));
  if (dbl === -1) return parse(ip);
  const head = parse(ip.slice(0, dbl));
  const tail = parse(ip.slice(dbl + 2));
  const fill: string[] = Array.from(
    { length: Math.max(0, 8 - head.length - tail.length) },
    () => '0',
  );
  return [...head, ...fill, ...tail];
}

/** The canonical text hashed for an IP, so ::ffff:10.0.0.5 and 10.0.0.5 correlate. */
function canonicalIp(ip: string): string {
  const lower = ip.toLowerCase();
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  return m !== null ? m[1]! : lower;
}

function ipReplacement(ip: string, o: DetectorOptions): string | null {
  if (o.ip === 'hash' && o.hasher !== null) return o.hasher.token(canonicalIp(ip));
  if (o.ip === 'truncate') {
    const t = truncateIp(ip);
    return t === ip || t === ip.toLowerCase() ? null : t;
  }
  return null;
}

function findIps(s: string, out: Span[], o: DetectorOptions, v4: boolean, v6: boolean): void {
  let m: RegExpExecArray | null;
  if (v4) {
    IPV4_RE.lastIndex = 0;
    while ((m = IPV4_RE.exec(s)) !== null) {
      if (!isIPv4(m[0])) continue;
      const rep = ipReplacement(m[0], o);
      if (rep !== null)
        out.push({ start: m.index, end: m.index + m[0].length, text: rep, rule: 'ip' });
    }
  }
  if (v6) {
    IPV6_RE.lastIndex = 0;
    while ((m = IPV6_RE.exec(s)) !== null) {
      let text = m[0];
      // A sentence-ending dot is not part of the address.
      while (text.endsWith('.')) text = text.slice(0, -1);
      if (!text.includes(':') || text.indexOf(':') === text.lastIndexOf(':') || !isIPv6(text))
        continue;
      const rep = ipReplacement(text, o);
      if (rep !== null)
        out.push({ start: m.index, end: m.index + text.length, text: rep, rule: 'ip' });
    }
  }
}

// ---------------------------------------------------------------------------
// Custom detectors (re2js: linear time whatever the user wrote).

/** Expand $1…$9, $& and $$ in a custom replacement. */
function expandReplacement(rep: string, groups: (i: number) => string | null): string {
  if (!rep.includes('$')) return rep;
  let out = '';
  for (let i = 0; i < rep.length; i++) {
    const c = rep[i]!;
    if (c !== '$' || i === rep.length - 1) {
      out += c;
      continue;
    }
    const d = rep[i + 1]!;
    if (d === '$') {
      out += '$';
      i++;
    } else if (d === '&') {
      out += groups(0) ?? '';
      i++;
    } else if (d >= '1' && d <= '9') {
      out += groups(d.charCodeAt(0) - 48) ?? '';
      i++;
    } else out += c;
  }
  return out;
}

function findCustom(s: string, out: Span[], d: CustomDetector): void {
  if (!d.re.test(s)) return;
  const m = d.re.matcher(s);
  const groupCount = d.re.groupCount();
  while (m.find()) {
    const start = m.start();
    const end = m.end();
    if (end <= start) continue;
    const text = expandReplacement(d.replace, (i) => (i <= groupCount ? m.group(i) : null));
    if (text !== s.slice(start, end)) out.push({ start, end, text, rule: d.rule });
  }
}

// ---------------------------------------------------------------------------
// The scanner: gate, run detectors, collect spans.

export type TextScanner = (s: string, out: Span[]) => void;

const ISO_TIME =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?$/;

/** ISO 8601 timestamps are in every event and can hold nothing secret. */
function isIsoTime(s: string): boolean {
  const n = s.length;
  return (
    n >= 16 && n <= 35 && s.charCodeAt(4) === 45 && s.charCodeAt(13) === 58 && ISO_TIME.test(s)
  );
}

/**
 * The fewest characters each detector can match, so the gates below skip it on
 * shorter text: `123-45-6789` (11), `Basic ` + 6 (12), `xoxb-` + 10 (15), a JWT
 * (10 + 1 + 4 + 1), `-----BEGIN PRIVATE KEY-----` (27). Every other detector needs
 * `@`, `:` or `=` (e-mail, URL userinfo, key=value) or, when IPs are rewritten, a `.`
 * or `:`.
 */
const SHORTEST_SSN = 11;
const SHORTEST_VENDOR_RUN = 15;
const SHORTEST_PRIVATE_KEY = 27;

/**
 * The detectors for `o`. `gated` (the default) first makes one pass over the
 * characters to see which detectors can possibly match and runs only those; with
 * `gated` false every enabled detector runs on every string — the slow reference
 * the gates are tested against (test/redact/detectors.test.ts), never used in the
 * pipeline. Both report the same spans in the same order.
 */
export function createTextScanner(o: DetectorOptions, gated = true): TextScanner {
  const emailOn = o.email !== 'keep';
  const ipOn = o.ip !== 'keep';
  const kvOn = o.secret_key_text || o.url_credentials;
  if (!gated) {
    return (s: string, out: Span[]): void => {
      if (o.private_key) findPrivateKeys(s, out);
      if (o.card) findCards(s, out);
      if (o.ssn) findSsns(s, out);
      if (o.jwt) findJwts(s, out);
      if (o.bearer || o.basic_auth) findAuthSchemes(s, out, o.bearer, o.basic_auth);
      if (o.aws) findAws(s, out, true, true);
      if (o.vendor_tokens) findVendorTokens(s, out);
      const authorities: number[] = [];
      if (o.url_credentials || emailOn)
        findUserinfo(s, o.url_credentials ? out : null, authorities);
      if (kvOn) findKeyValues(s, out, o);
      if (emailOn) findEmails(s, out, o, authorities);
      if (ipOn) findIps(s, out, o, true, true);
      for (const d of o.custom) findCustom(s, out, d);
    };
  }
  return (s: string, out: Span[]): void => {
    const n = s.length;
    if (isIsoTime(s)) {
      for (const d of o.custom) findCustom(s, out, d);
      return;
    }
    // One pass: which character classes occur, digit count, longest token run.
    // Branch-light on purpose: this loop sees every character of every event.
    let seen = 0;
    let digits = 0;
    let colons = 0;
    let dots = 0;
    let run = 0;
    let maxRun = 0;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      const k = c < 128 ? CLS[c]! : 0;
      seen |= k;
      digits += k & C_DIGIT;
      colons += (k >> 5) & 1; // C_COLON
      dots += (k >> 6) & 1; // C_DOT
      if ((k & TOKEN) !== 0) {
        if (++run > maxRun) maxRun = run;
      } else run = 0;
    }
    if (o.private_key && (seen & C_DASH) !== 0 && n >= SHORTEST_PRIVATE_KEY) {
      findPrivateKeys(s, out);
    }
    if (o.card && digits >= 13) findCards(s, out);
    if (o.ssn && digits >= 9 && (seen & (C_DASH | C_SPACE)) !== 0) findSsns(s, out);
    if (o.jwt && dots >= 2 && maxRun >= 10 && s.includes('eyJ')) findJwts(s, out);
    if ((o.bearer || o.basic_auth) && (seen & C_SPACE) !== 0 && n >= 12 && mentionsAuthScheme(s)) {
      findAuthSchemes(s, out, o.bearer, o.basic_auth);
    }
    // Key ids start with capitals and random secrets hold some: lower-case ids, hex and
    // UUIDs (in every event) skip both regexes.
    if (o.aws && maxRun >= 20 && (seen & C_UPPER) !== 0) findAws(s, out, true, maxRun >= 40);
    if (o.vendor_tokens && maxRun >= SHORTEST_VENDOR_RUN && (seen & C_VSTART) !== 0) {
      findVendorTokens(s, out);
    }
    const authorities: number[] = [];
    const at = (seen & C_AT) !== 0;
    const colon = (seen & C_COLON) !== 0;
    if (colon && at && (o.url_credentials || emailOn)) {
      findUserinfo(s, o.url_credentials ? out : null, authorities);
    }
    if (kvOn && (seen & (C_EQ | C_COLON)) !== 0) findKeyValues(s, out, o);
    if (emailOn && at) findEmails(s, out, o, authorities);
    if (ipOn) {
      const v4 = dots >= 3 && digits >= 4;
      const v6 = colons >= 2 && (colons >= 7 || s.includes('::'));
      if (v4 || v6) findIps(s, out, o, v4, v6);
    }
    for (const d of o.custom) findCustom(s, out, d);
  };
}

/**
 * A test cheaper than the scanner's own pass (and than looking `s` up in the
 * redactor's memo) that answers true only when the scanner would report nothing:
 * an ISO timestamp, or text shorter than the shortest SSN with none of the
 * characters the remaining detectors need. Always false with custom detectors
 * (they may match anything).
 */
export function createQuickClean(o: DetectorOptions): (s: string) => boolean {
  if (o.custom.length > 0) return () => false;
  const ipOn = o.ip !== 'keep';
  return (s: string): boolean => {
    const n = s.length;
    if (n < SHORTEST_SSN) {
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        // @ : = (and . when IPs are rewritten)
        if (c === 64 || c === 58 || c === 61 || (c === 46 && ipOn)) return false;
      }
      return true;
    }
    return isIsoTime(s);
  };
}

// ---------------------------------------------------------------------------
// Applying spans.

interface Piece {
  start: number;
  end: number;
  text: string;
  rule: string;
  rule2: string | null;
}

/**
 * Rewrite `s` with `spans`. Overlaps: a span inside another is dropped (the outer
 * one wins); partly overlapping spans are merged into one `[REDACTED]` (fail
 * closed). Parts of a span that cover an existing token are left alone, the rest
 * masked, so a token is never rewritten and a value glued to one is still caught.
 */
export function applySpans(s: string, spans: Span[], tally: Tally): string {
  if (spans.length === 0) return s;
  const prot = findProtectedSpans(s);
  let list: Piece[] = [];
  for (const sp of spans) {
    if (prot === null) {
      list.push({ start: sp.start, end: sp.end, text: sp.text, rule: sp.rule, rule2: null });
      continue;
    }
    let cur = sp.start;
    let touched = false;
    for (let p = 0; p < prot.length && cur < sp.end; p += 2) {
      const ps = prot[p]!;
      const pe = prot[p + 1]!;
      if (pe <= cur || ps >= sp.end) continue;
      touched = true;
      if (ps > cur) list.push({ start: cur, end: ps, text: MASK, rule: sp.rule, rule2: null });
      cur = pe;
    }
    if (!touched)
      list.push({ start: sp.start, end: sp.end, text: sp.text, rule: sp.rule, rule2: null });
    else if (cur < sp.end)
      list.push({ start: cur, end: sp.end, text: MASK, rule: sp.rule, rule2: null });
  }
  if (list.length === 0) return s;
  if (list.length > 1) list.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Piece[] = [];
  for (const p of list) {
    const last = merged[merged.length - 1];
    if (last !== undefined && p.start < last.end) {
      if (p.end <= last.end) continue;
      last.end = p.end;
      last.text = MASK;
      if (p.rule !== last.rule) last.rule2 = p.rule;
      continue;
    }
    merged.push(p);
  }
  list = merged;
  let out = '';
  let pos = 0;
  for (const p of list) {
    out += s.slice(pos, p.start) + p.text;
    pos = p.end;
    tally.add(p.rule);
    if (p.rule2 !== null) tally.add(p.rule2);
  }
  return out + s.slice(pos);
}
