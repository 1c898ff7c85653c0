/**
 * Builds the C reference ahead of a guest benchmark: the guest sees the host
 * root read-only and cannot compile it there.
 */
import { buildCReference } from './c-reference';

process.stdout.write(`${buildCReference()}\n`);
