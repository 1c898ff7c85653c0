// Smoke tests of the devmem-mode guest (devmem-capable netdevsim); see
// helpers/environment-suite.ts.
import { describeGuestEnvironment } from '../helpers/environment-suite.js';

describeGuestEnvironment('devmem');
