// Mocha reporter for the guest run (scripts/vm/guest/main.sh): the usual spec output
// on the console, which the host streams so humans see progress, plus a JSON file
// (reporter option "output") that the host reads back through the job share to count
// and list results. CommonJS because mocha loads reporters with require().
'use strict';

const fs = require('node:fs');
const Mocha = require('mocha');

const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

function errorInfo(err) {
  if (!err) return undefined;
  return { message: String(err.message ?? err), stack: typeof err.stack === 'string' ? err.stack : undefined };
}

class GuestReporter extends Mocha.reporters.Spec {
  constructor(runner, options = {}) {
    super(runner, options);
    const output = options.reporterOption?.output;
    const tests = [];
    const record = (state) => (test, err) => {
      tests.push({
        title: test.title,
        fullTitle: test.fullTitle(),
        file: test.file,
        state,
        durationMs: test.duration,
        error: errorInfo(err),
      });
    };
    runner.on(EVENT_TEST_PASS, record('passed'));
    runner.on(EVENT_TEST_FAIL, record('failed'));
    runner.on(EVENT_TEST_PENDING, record('pending'));
    runner.once(EVENT_RUN_END, () => {
      if (!output) return;
      const { passes, failures, pending, tests: total, duration } = this.stats;
      // Written synchronously: mocha may exit the process right after this event.
      fs.writeFileSync(output, JSON.stringify({ stats: { passes, failures, pending, tests: total, duration }, tests }, null, 2));
    });
  }
}

module.exports = GuestReporter;
