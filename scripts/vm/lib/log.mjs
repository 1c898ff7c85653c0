// @ts-check
// Progress lines for the host side of the harness. Every line carries the time since
// start, so a slow step is obvious in CI logs without extra tooling.

const started = Date.now();

export function elapsedSeconds() {
  return (Date.now() - started) / 1000;
}

function stamp() {
  return `[test:vm +${elapsedSeconds().toFixed(1)}s]`;
}

/** @param {string} message */
export function step(message) {
  console.log(`${stamp()} ${message}`);
}

/** @param {string} message */
export function note(message) {
  console.log(`${stamp()} note: ${message}`);
}

/** @param {string} message */
export function warn(message) {
  console.error(`${stamp()} warning: ${message}`);
}

/**
 * Runs fn and logs how long it took: "<label> (12.3 s)".
 * @template T
 * @param {string} label
 * @param {() => T | Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function timed(label, fn) {
  const t0 = Date.now();
  step(`${label} ...`);
  const result = await fn();
  step(`${label}: done (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return result;
}
