// Smoke tests of the stock-mode guest (upstream netdevsim, no DMA: bind-rx is refused
// with "Device doesn't support DMA"); see helpers/environment-suite.ts.
import { describeGuestEnvironment } from '../helpers/environment-suite.js';

describeGuestEnvironment('stock');
