// Worker entry for tests: registers the TypeScript hooks, then runs the real worker module
// from the sources (src/pipeline/worker.ts), so tests exercise the code they import.
import { register } from 'node:module';

register('./ts-loader.js', import.meta.url);
await import('../../src/pipeline/worker.ts');
