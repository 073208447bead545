/**
 * zod building blocks shared by every module's config schema.
 * Module schemas use z.strictObject so unknown keys are rejected.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/** A duration string (`500ms`, `30s`, `7d`) or a number of seconds → milliseconds. */
export const zDuration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(v)}: use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A size string (`64KiB`, `2GiB`, `5MB`) or a number of bytes → bytes. */
export const zSize = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid size ${JSON.stringify(v)}: use a number with a unit, e.g. 512KiB, 64MiB, 2GiB`,
    });
    return z.NEVER;
  }
  return n;
});
