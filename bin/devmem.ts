#!/usr/bin/env node
/**
 * The `devmem` command line: one module per subcommand under bin/commands,
 * each parsing its own options with util.parseArgs. Reports and payload go to
 * stdout, diagnostics to stderr.
 *
 * A subcommand's modules load only when it runs: `devmem nc` is started by
 * test harnesses that wait a few seconds for its listener, and on a slow
 * (emulated) machine every module read counts.
 */
import { describeError, packageRoot } from '../lib/internal';
import type * as Bench from './commands/bench';
import type * as Nc from './commands/nc';
import type * as Peer from './commands/peer';
import type * as Probe from './commands/probe';
import type * as Restore from './commands/restore';

// require() rather than import(): this is CommonJS, and a deferred require
// keeps the module's types through the type-only imports above.
const probe = () => require('./commands/probe') as typeof Probe;

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  probe: {
    summary: 'Report what this host can do for devmem TCP (default).',
    run: (argv) => probe().runProbe(argv),
  },
  nc: {
    summary: 'ncdevmem-compatible RX server, TX client and self-test (devmem nc --help).',
    run: (argv) => (require('./commands/nc') as typeof Nc).runNc(argv),
  },
  bench: {
    summary: 'Benchmark the receive path against C (BENCHMARKS.md; devmem bench --help).',
    run: (argv) => (require('./commands/bench') as typeof Bench).runBench(argv),
  },
  peer: {
    summary: 'Plain TCP far end for devmem tests, instead of socat (devmem peer --help).',
    run: (argv) => (require('./commands/peer') as typeof Peer).runPeer(argv),
  },
  restore: {
    summary: 'Undo the NIC changes a killed devmem process left behind (devmem restore --help).',
    run: (argv) => (require('./commands/restore') as typeof Restore).runRestore(argv),
  },
};

function help(): string {
  const { PROBE_HELP } = probe();
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  const list = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`)
    .join('\n');
  return `Usage: devmem [COMMAND] [OPTIONS]

Commands:
${list}

Run "devmem COMMAND --help" for a command's options.
  -h, --help       Show this help.
  -V, --version    Show the version.

${PROBE_HELP}`;
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(help());
    return 0;
  }
  if (first === '-V' || first === '--version') {
    process.stdout.write(`${(require(`${packageRoot}/package.json`) as { version: string }).version}\n`);
    return 0;
  }
  if (first === undefined || first.startsWith('-')) return COMMANDS.probe!.run(argv);
  const command = COMMANDS[first];
  if (command) return command.run(rest);
  process.stderr.write(`devmem: unknown command "${first}"\n\n${help()}`);
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`devmem: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}
