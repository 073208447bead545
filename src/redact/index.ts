/** Redaction: config schema, compiled plan, and the pieces tests and tools reuse. */
export {
  redactionConfigSchema,
  defaultRedactionConfig,
  type RedactionConfig,
  type RedactionConfigInput,
} from './config.js';
export { compileRedaction, type RedactionPlan } from './redactor.js';
export { MASK, isToken } from './tokens.js';
