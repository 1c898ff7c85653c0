// @ts-check
// Cleanup that must also happen when the run is cut short (SIGINT, SIGTERM, overall
// timeout): temp dirs, half-built cache entries. Normal code paths clean up in their
// own finally blocks and unregister; abort paths call runCleanups() after the child
// processes are gone.
/** @type {Map<number, () => void>} */
const actions = new Map();
let next = 0;

/**
 * Registers fn; returns a function that unregisters it.
 * @param {() => void} fn
 * @returns {() => boolean}
 */
export function onCleanup(fn) {
  const id = next++;
  actions.set(id, fn);
  return () => actions.delete(id);
}

export function runCleanups() {
  for (const [id, fn] of [...actions].reverse()) {
    actions.delete(id);
    try {
      fn();
    } catch (err) {
      console.error(`cleanup failed: ${/** @type {Error} */ (err).message}`);
    }
  }
}
