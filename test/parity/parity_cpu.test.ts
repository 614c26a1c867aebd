import { PARITY_CASES } from '../helpers';
import { parityOn } from './parity_suite';

// The full-size case has a file of its own (parity_cpu_full.test.ts), so that it starts first on
// one worker while the other worker runs everything else.
parityOn('cpu', { only: PARITY_CASES.filter((c) => c !== 'v2-vits-full') });
