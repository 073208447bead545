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

export function compileMatcher(include: readonly string[], exclude: readonly string[] = []): FileMatcher {
  const abs = include.map((g) => (path.isAbsolute(g) ? g : path.resolve(g)));
  const inc = picomatch(abs);
  // A pattern without "/" (e.g. "*.1") matches the file name anywhere, like the example config's "*.gz".
  const exc = exclude.length > 0 ? picomatch([...exclude], { basename: true }) : () => false;
  const byDir = new Map<string, number | undefined>();
  for (const g of abs) {
    const scan = picomatch.scan(g);
    let dir: string;
    let depth: number | undefined;
    if (!scan.isGlob) {
      dir = path.dirname(g);
      depth = 0;
    } else {
      dir = scan.base === '' ? '/' : scan.base;
      depth = scan.isGlobstar ? undefined : Math.max(0, scan.glob.split('/').length - 1);
    }
    const prev = byDir.get(dir);
    const merged = !byDir.has(dir) ? depth : prev === undefined || depth === undefined ? undefined : Math.max(prev, depth);
    byDir.set(dir, merged);
  }
  return {
    accepts: (file) => inc(file) && !exc(file) && !isNeverRead(file),
    bases: [...byDir].map(([dir, depth]) => ({ dir, depth })),
  };
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
