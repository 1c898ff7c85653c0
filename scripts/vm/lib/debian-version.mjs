// @ts-check
// Debian version ordering (deb-version(7)), so candidates can be sorted without one
// `dpkg --compare-versions` process per comparison.

/** @param {string | undefined} c */
function order(c) {
  if (c === '~') return -1;
  if (c === undefined || c === '') return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/**
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
function comparePart(a, b) {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // non-digit prefix, character by character
    while ((i < a.length && !/\d/.test(a[i])) || (j < b.length && !/\d/.test(b[j]))) {
      const ca = i < a.length && !/\d/.test(a[i]) ? a[i] : '';
      const cb = j < b.length && !/\d/.test(b[j]) ? b[j] : '';
      const d = order(ca) - order(cb);
      if (d !== 0) return d;
      if (ca) i++;
      if (cb) j++;
    }
    // numeric part
    let na = '';
    let nb = '';
    while (i < a.length && /\d/.test(a[i])) na += a[i++];
    while (j < b.length && /\d/.test(b[j])) nb += b[j++];
    const d = Number(na || 0) - Number(nb || 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * @param {string} v
 * @returns {[epoch: number, upstream: string, revision: string]}
 */
function split(v) {
  const colon = v.indexOf(':');
  const epoch = colon >= 0 ? Number(v.slice(0, colon)) : 0;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, ''];
}

/**
 * < 0, 0, > 0 like dpkg --compare-versions a lt/eq/gt b.
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function compareDebVersions(a, b) {
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  return ea - eb || comparePart(ua, ub) || comparePart(ra, rb);
}
