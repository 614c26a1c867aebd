import { PARITY_CASES } from '../helpers';
import { parityOn } from './parity_suite';

// webgpu in Node: Dawn (the `webgpu` package) on Mesa's GL ES (llvmpipe here). Every case, the
// full-size V2-S one included (about 3.6 minutes on 2 cores).
parityOn('webgpu', { cases: PARITY_CASES });
