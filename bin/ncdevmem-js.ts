#!/usr/bin/env node
/** `ncdevmem-js`: `devmem nc` under the name the kernel's tool has, for harnesses that call it. */
import { describeError } from '../lib/internal';
import { runNc } from './commands/nc';

runNc(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ncdevmem-js: ${describeError(err)}\n`);
    process.exitCode = 1;
  },
);
