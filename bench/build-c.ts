/**
 * Builds the C references ahead of a guest benchmark: the guest sees the host
 * root read-only and cannot compile them there. Prints the devmem reference's
 * path, then the zcrx reference's (or why it was not built).
 */
import { buildCReference, buildZcrxReference } from './c-reference';

const zcrx = buildZcrxReference();
process.stdout.write(`${buildCReference()}; zcrx: ${'path' in zcrx ? zcrx.path : `not built (${zcrx.reason})`}\n`);
