import { da3ParityOn } from './parity_suite';

// webgpu in Node: Dawn (the `webgpu` package) on Mesa's GL ES (llvmpipe here); about 10 s per case.
da3ParityOn('webgpu');
