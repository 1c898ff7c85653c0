// @ts-check
// Kernel log checks. A test run only counts as green if the guest kernel stayed quiet:
// the devmem paths are full of refcounts (bindings, net_iovs, page pools) whose bugs
// show up as warnings long before they show up as wrong data.
export const KERNEL_PROBLEM_RE = /WARNING:|BUG:|refcount_t|underflow|Call Trace|Oops/;

// Console lines that come from printk (printk.time=1 puts "[ 12.345678]" first), so
// that test output that happens to contain "WARNING:" is not mistaken for the kernel.
const PRINTK_LINE_RE = /^\[\s*\d+\.\d+\]/;

/**
 * Offending lines in a full dmesg dump.
 * @param {string} dmesgText
 * @returns {string[]}
 */
export function kernelProblems(dmesgText) {
  return dmesgText.split('\n').filter((line) => KERNEL_PROBLEM_RE.test(line));
}

/**
 * Offending kernel lines on the console (for guests that died before saving dmesg).
 * @param {string[]} lines
 * @returns {string[]}
 */
export function consoleKernelProblems(lines) {
  return lines.filter((line) => PRINTK_LINE_RE.test(line) && (KERNEL_PROBLEM_RE.test(line) || /Kernel panic/.test(line)));
}
