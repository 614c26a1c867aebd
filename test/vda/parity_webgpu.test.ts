import { vdaParityOn } from './parity_suite';

// webgpu in Node (Dawn on Mesa's llvmpipe here): the model case (about 15 s); the streaming and
// pipeline cases pass too (measured, docs/vda.md) but take minutes of GPU round trips.
vdaParityOn('webgpu', ['vda-tiny']);
