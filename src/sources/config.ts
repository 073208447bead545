/**
 * Config schemas of the `file` and `stdin` sources. The lead composes them into the
 * top-level `sources` discriminated union on `type` (src/config/schema.ts).
 */
import { z } from 'zod';
import { zDuration, zSize } from '../config/zod-units.js';
import type { FramingFormat } from '../framing/types.js';

const FORMATS = [
  'auto',
  'json',
  'cri',
  'docker',
  'raw',
] as const satisfies readonly FramingFormat[];
const format = z.enum(FORMATS);

/**
 * Bound on one physical line. Below 1 KiB a CRI prefix plus a small JSON record no
 * longer fits; above 64 MiB one line could hold the daemon's whole memory budget.
 */
const maxLineBytes = zSize
  .pipe(
    z
      .number()
      .int()
      .min(1024, 'max_line_bytes must be at least 1KiB')
      .max(64 * 1024 * 1024, 'max_line_bytes must be at most 64MiB'),
  )
  .prefault('1MiB');

const oversizedLines = z.enum(['truncate', 'skip']).default('truncate');

/** A non-empty glob; `!`-negation is rejected because `exclude` says it explicitly. */
const glob = z
  .string()
  .min(1, 'a glob must not be empty')
  .refine((s) => !s.startsWith('!'), 'use exclude: [...] instead of a "!" pattern');

export const fileSourceSchema = z.strictObject({
  type: z.literal('file'),
  /** Globs of files to tail (relative ones resolve against the working directory). */
  include: z.array(glob).min(1, 'include needs at least one glob'),
  /** Globs to leave out; a pattern without "/" matches the file name. `.gz`/`.tmp` are never read. */
  exclude: z.array(glob).optional(),
  format: format.default('auto'),
  profile: z.string().min(1).default('auto'),
  /** Where to start files that exist at the very first start and have no checkpoint. */
  read_from: z.enum(['beginning', 'end']).default('beginning'),
  max_line_bytes: maxLineBytes,
  /** What to do with a line longer than max_line_bytes: cut it there, or drop it. Both count. */
  oversized_lines: oversizedLines,
  /** Periodic directory rescan: the safety net under filesystem events (missed/overflowed). */
  rescan_interval: zDuration
    .pipe(z.number().min(10, 'rescan_interval must be at least 10ms'))
    .prefault('1s'),
  /** Emit an incomplete CRI/Docker partial run after this long without its final piece. */
  partial_timeout: zDuration
    .pipe(z.number().min(1, 'partial_timeout must be positive'))
    .prefault('5s'),
  /** Files without a checkpoint whose mtime is older start at their end (new appends still read). */
  ignore_older: zDuration.pipe(z.number().min(1, 'ignore_older must be positive')).optional(),
});
export type FileSourceConfig = z.output<typeof fileSourceSchema>;

export const stdinSourceSchema = z.strictObject({
  type: z.literal('stdin'),
  format: format.default('json'),
  profile: z.string().min(1).default('auto'),
  max_line_bytes: maxLineBytes,
  oversized_lines: oversizedLines,
});
export type StdinSourceConfig = z.output<typeof stdinSourceSchema>;
