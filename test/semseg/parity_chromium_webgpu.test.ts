import { segParityOn } from './parity_suite';

// parity --browser on WebGPU (SwiftShader's fallback adapter here): about 2 minutes per case on
// 2 loaded cores, so CI runs the whole-mode case (the .pth converted by Node, every layer, the
// attention masks); SEG_GPU_FULL=1 adds the slide case (both passed, see README).
segParityOn('webgpu', { browser: true, cases: process.env.SEG_GPU_FULL ? undefined : ['seg-tiny'] });
