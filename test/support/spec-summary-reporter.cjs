'use strict';
// Mocha's spec reporter, plus a JSON file with the counts when
// DEVMEM_TEST_SUMMARY names one, so scripts/test-all.mjs can add up suites.
const fs = require('node:fs');
const Mocha = require('mocha');

class SpecSummary extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.DEVMEM_TEST_SUMMARY;
      if (!file) return;
      const { passes, failures, pending } = runner.stats;
      fs.writeFileSync(file, JSON.stringify({ passed: passes, failed: failures, skipped: pending }));
    });
  }
}

module.exports = SpecSummary;
