#!/usr/bin/env node
/**
 * The `devmem` command line: one module per subcommand under bin/commands,
 * each parsing its own options with util.parseArgs. Reports and payload go to
 * stdout, diagnostics to stderr.
 */
import { packageRoot } from '../lib/native';
import { runBench } from './commands/bench';
import { runNc } from './commands/nc';
import { runPeer } from './commands/peer';
import { PROBE_HELP, runProbe } from './commands/probe';

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  probe: { summary: 'Report what this host can do for devmem TCP (default).', run: runProbe },
  nc: { summary: 'ncdevmem-compatible RX server, TX client and self-test (devmem nc --help).', run: runNc },
  bench: { summary: 'Benchmark the receive path against C (BENCHMARKS.md; devmem bench --help).', run: runBench },
  peer: { summary: 'Plain TCP far end for devmem tests, instead of socat (devmem peer --help).', run: runPeer },
};

function help(): string {
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
  if (first === undefined || first.startsWith('-')) return runProbe(argv);
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
      process.stderr.write(`devmem: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
