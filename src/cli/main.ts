#!/usr/bin/env node
/**
 * auditshipper command line. Thin: parse flags, call the command, map the outcome to the
 * exit codes of the CLI contract (0 ok, 1 invalid input or config, 2 usage, 3 runtime failure).
 */
import { parseArgs } from 'node:util';
import { EXIT, UsageError } from './common.js';

const USAGE = `usage: auditshipper <command> [options]

commands:
  run      [-c FILE]                       run the agent
  validate [-c FILE]                       check a config; file:line:col errors, exit 1 if invalid
  route    [-c FILE] [FILE|-] [--source NAME] [--explain] [--json]
                                           dry run: redacted event and target sinks per input line
  test     [-c FILE] TESTS.yaml              run config tests: expected sinks, fields, absent secrets
  status   [-c FILE] [--json]              queue depth, oldest pending, DLQ, file checkpoints
  dlq      list|replay|purge [-c FILE] [--sink S] [--id N] [--before DATE] [--json]
  probe    [-c FILE] SINK [--json]         send one marked test event to a sink; print the answer and latency

config search: -c, $AUDITSHIPPER_CONFIG, ./auditshipper.yaml, /etc/auditshipper/auditshipper.yaml,
then the embedded default.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n');
    return command ? EXIT.ok : EXIT.usage;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      explain: { type: 'boolean' },
      source: { type: 'string' },
      sink: { type: 'string' },
      id: { type: 'string' },
      before: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  // Each command's modules are loaded when it runs: `validate` does not pay for the agent's
  // sinks and store, and the agent starts without the other commands' code.
  switch (command) {
    case 'run':
      return (await import('./run.js')).runCommand(values);
    case 'validate':
      return (await import('./validate.js')).validateCommand(values);
    case 'route':
      return (await import('./route.js')).routeCommand({ ...values, input: positionals[0] });
    case 'test':
      return (await import('./test.js')).testCommand({ ...values, tests: positionals[0] });
    case 'status':
      return (await import('./status.js')).statusCommand(values);
    case 'dlq':
      return (await import('./dlq.js')).dlqCommand(positionals[0], values);
    case 'probe':
      return (await import('./probe.js')).probeCommand(positionals[0], values);
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    process.stderr.write(`auditshipper: ${(err as Error).message}\n`);
    process.exitCode = EXIT.runtime;
  },
);
