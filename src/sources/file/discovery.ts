/**
 * Which files a file source reads: include/exclude globs compiled with picomatch,
 * the directories to watch (chokidar 5 takes directories, not globs) and a bounded
 * directory walk for the periodic rescan, the safety net under filesystem events
 * (tailing.md §2 progress_check_interval, §6.15).
 */
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';

/** Compressed and temporary files are never read, even when a glob matches them (tailing.md §1, §4). */
export function isNeverRead(file: string): boolean {
  return /\.(gz|tmp)$/i.test(file);
}

export interface WatchBase {
  /** Directory to watch and walk. */
  dir: string;
  /** Directory levels below `dir` that can hold matches (undefined: unlimited, i.e. `**`). */
  depth: number | undefined;
}

export interface FileMatcher {
  /** True when `file` (absolute) should be read. */
  accepts(file: string): boolean;
  /** Watch roots, one per distinct base directory. */
  bases: WatchBase[];
}

/** Depth cap for `**` walks: a symlink loop must not walk forever. */
const MAX_WALK_DEPTH = 32;

export function compileMatcher(
  include: readonly string[],
  exclude: readonly string[] = [],
): FileMatcher {
  const abs = include.map((g) => (path.isAbsolute(g) ? g : path.resolve(g)));
  const inc = picomatch(abs);
  // A pattern without "/" (e.g. "*.1", the example config's "*.gz") matches the file name
  // anywhere; one with "/" matches the whole path.
  const byName = exclude.filter((g) => !g.includes('/'));
  const byPath = exclude
    .filter((g) => g.includes('/'))
    .map((g) => (path.isAbsolute(g) ? g : path.resolve(g)));
  const excName = byName.length > 0 ? picomatch(byName) : undefined;
  const excPath = byPath.length > 0 ? picomatch(byPath) : undefined;
  const excluded = (file: string): boolean =>
    (excName !== undefined && excName(path.basename(file))) ||
    (excPath !== undefined && excPath(file));

  const wanted: WatchBase[] = abs.map((g) => {
    const scan = picomatch.scan(g);
    if (!scan.isGlob) return { dir: path.dirname(g), depth: 0 };
    const dir = scan.base === '' ? '/' : scan.base;
    const depth = scan.glob.includes('**') ? undefined : scan.glob.split('/').length - 1;
    return { dir, depth };
  });
  return {
    accepts: (file) => inc(file) && !excluded(file) && !isNeverRead(file),
    bases: mergeBases(wanted),
  };
}

/** Drop bases that another base already covers (same or ancestor directory, enough depth). */
function mergeBases(bases: WatchBase[]): WatchBase[] {
  const covers = (a: WatchBase, b: WatchBase): boolean => {
    const rel = path.relative(a.dir, b.dir);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
    const below = rel === '' ? 0 : rel.split(path.sep).length;
    if (a.depth === undefined) return true;
    return b.depth !== undefined && a.depth >= below + b.depth;
  };
  const out: WatchBase[] = [];
  bases.forEach((b, i) => {
    const coveredBy = bases.findIndex(
      (a, j) => j !== i && covers(a, b) && (!covers(b, a) || j < i),
    );
    if (coveredBy === -1) out.push(b);
  });
  return out;
}

/**
 * Walk the bases and stat every accepted regular file (symlinks followed, so
 * /var/log/containers links resolve to the files they point at).
 * Unreadable or vanished entries are skipped: a scan never fails.
 */
export async function scanFiles(matcher: FileMatcher): Promise<Map<string, Stats>> {
  const found = new Map<string, Stats>();
  const walk = async (dir: string, depthLeft: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // missing base (pod dir not created yet), EACCES, raced removal
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      let st: Stats | undefined;
      if (e.isSymbolicLink()) {
        try {
          st = await stat(full);
        } catch {
          continue; // dangling link
        }
        isDir = st.isDirectory();
        isFile = st.isFile();
      }
      if (isDir) {
        if (depthLeft > 0) await walk(full, depthLeft - 1);
      } else if (isFile && matcher.accepts(full)) {
        try {
          st ??= await stat(full);
          if (st.isFile()) found.set(full, st);
        } catch {
          // vanished between readdir and stat: the next scan or a watcher event sees its successor
        }
      }
    }
  };
  for (const b of matcher.bases) await walk(b.dir, b.depth ?? MAX_WALK_DEPTH);
  return found;
}
