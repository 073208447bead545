/** Fake receivers for sink and integration tests; see each module for its API. */
export * from './common.js';
export * from './datadog.js';
export * from './generic.js';
export * from './splunk.js';
export * from './tls.js';
