/**
 * What a key name says about its value. Classification is by name, any depth, any
 * casing, and ignores separators, so `databasePassword`, `database_password` and
 * `DATABASE-PASSWORD` are one name (HTTP field names are case-insensitive, RFC 9110
 * §5.1). Results are cached: the same few hundred key names recur in every event.
 */
import picomatch from 'picomatch';

/** The value is a credential: mask it (and every leaf under it). */
export const KEY_SECRET = 1;
/** A request/response header or cookie container: dropped under `hide_all_headers`. */
export const KEY_HEADERS = 2;
/** A query's parameters: hidden under `hide_query_parameters`. */
export const KEY_PARAMS = 4;
/** Holds SQL text: literals stripped when `sql_literals` is on. */
export const KEY_SQL = 8;
/**
 * As a URL query parameter, the value is a credential: every credential name (whether
 * or not always_secret_keys is on) plus names that are credentials only inside a URL
 * (`sig`, `X-Amz-Signature`, `code`, `key`).
 */
export const KEY_URL_SECRET = 16;

/** Lower-case and drop `-`, `_`, `.`, spaces and brackets: the spelling-free form of a name. */
export function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s[\]]/g, '');
}

/**
 * Exact secret names (normalised). Header names from ToolJet's default redaction list
 * and Datadog's keyword hints (research/redaction.md §6.3), credential fields seen in
 * Retool resource and user objects (§1.5), and the usual short forms.
 */
const SECRET_EXACT = new Set([
  'authorization',
  'proxyauthorization',
  'wwwauthenticate',
  'authenticationinfo',
  'cookie',
  'cookies',
  'setcookie',
  'apikey',
  'xapikey',
  'xgoogapikey',
  'xamzcredential',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'secret',
  'token',
  'auth',
  'xauth',
  'otp',
  'totp',
  'mfacode',
  'pin',
  'cvv',
  'cvv2',
  'cvc',
  'ssn',
  'dsn',
  'privatekey',
  'sessionid',
  'sessid',
]);

/** Substrings of normalised names that mark a credential wherever they appear. */
const SECRET_PARTS = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'accesskey',
  'credential',
  'authorization',
  'cookie',
  'connectionstring',
  'sessionid',
  'signingkey',
  'encryptionkey',
  'masterkey',
  'sshkey',
];

/** Credential-carrying URL query parameters that are too generic to mask outside a URL. */
const URL_SECRET_EXACT = new Set([
  'sig',
  'signature',
  'xamzsignature',
  'xamzcredential',
  'xgoogsignature',
  'xgoogcredential',
  'code',
  'key',
]);

const PARAMS_EXACT = new Set([
  'parameters',
  'params',
  'queryparameters',
  'queryparams',
  'queryparameter',
  'queryparam',
]);

const SQL_EXACT_DEFAULT = [
  'query',
  'querytext',
  'sql',
  'sqlquery',
  'statement',
  'rawquery',
  'rawsql',
];

export interface KeyClassifierOptions {
  /** always_secret_keys.enabled */
  secretKeys: boolean;
  /** Extra secret key globs (matched against the lower-cased name and its normalised form). */
  extraSecret: readonly string[];
  /** Key globs never treated as secret by name. */
  exceptSecret: readonly string[];
  /** Extra key names holding SQL (normalised before comparison). */
  sqlKeys: readonly string[];
}

export type KeyClassifier = (key: string) => number;

const CACHE_LIMIT = 10_000;
/** Longer names are classified but not cached (an attacker could otherwise fill the cache). */
const MAX_CACHED_NAME = 256;

export function defaultSqlKeys(): string[] {
  return SQL_EXACT_DEFAULT.slice();
}

function globs(list: readonly string[]): ((s: string) => boolean) | null {
  if (list.length === 0) return null;
  const m = picomatch(list as string[], { nocase: true, dot: true });
  return (s: string) => m(s);
}

/**
 * A classifier for `opts`. With `cacheSize` > 0 results are memoised (cleared when
 * full); pass 0 when the caller keeps its own cache.
 */
export function createKeyClassifier(
  opts: KeyClassifierOptions,
  cacheSize = CACHE_LIMIT,
): KeyClassifier {
  const extra = globs(opts.extraSecret);
  const except = globs(opts.exceptSecret);
  const sql = new Set([...SQL_EXACT_DEFAULT, ...opts.sqlKeys.map(normaliseKey)]);
  const cache = new Map<string, number>();

  function classify(key: string): number {
    const n = normaliseKey(key);
    let bits = 0;
    const lower = key.toLowerCase();
    let secret = SECRET_EXACT.has(n) || (extra !== null && (extra(lower) || extra(n)));
    if (!secret) {
      for (const part of SECRET_PARTS) {
        if (n.includes(part)) {
          secret = true;
          break;
        }
      }
    }
    if (secret && except !== null && (except(lower) || except(n))) secret = false;
    if (secret && opts.secretKeys) bits |= KEY_SECRET;
    // URL parameters are judged by name for url_credentials even when
    // always_secret_keys is off: the two switches are independent.
    if (secret || URL_SECRET_EXACT.has(n)) bits |= KEY_URL_SECRET;
    if (n.endsWith('headers') || n === 'cookie' || n.endsWith('cookies') || n === 'setcookie') {
      bits |= KEY_HEADERS;
    }
    if (PARAMS_EXACT.has(n)) bits |= KEY_PARAMS;
    if (sql.has(n)) bits |= KEY_SQL;
    return bits;
  }

  if (cacheSize <= 0) return classify;
  return (key: string): number => {
    if (key.length > MAX_CACHED_NAME) return classify(key);
    let bits = cache.get(key);
    if (bits === undefined) {
      bits = classify(key);
      if (cache.size >= cacheSize) cache.clear();
      cache.set(key, bits);
    }
    return bits;
  };
}
