// @ts-check
// An error the harness explains itself: run.mjs prints only its message (no stack),
// because the message already says what failed and what to do about it.
export class HarnessError extends Error {
  /**
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(message, { cause } = {}) {
    super(message, { cause });
    this.name = 'HarnessError';
  }
}
