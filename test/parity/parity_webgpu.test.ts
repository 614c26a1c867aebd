import { GPU_CASES, parityOn } from './parity_suite';

// webgpu in Node: Dawn (the `webgpu` package) on Mesa's GL ES (llvmpipe here).
parityOn('webgpu', { cases: GPU_CASES });
