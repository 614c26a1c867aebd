import { segParityOn } from './parity_suite';

// webgpu in Node: Dawn (the `webgpu` package) on Mesa's GL ES (llvmpipe here). Both cases (about 10 and 20 s).
segParityOn('webgpu');
