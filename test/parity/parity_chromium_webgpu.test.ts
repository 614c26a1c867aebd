import { GPU_CASES, parityOn } from './parity_suite';

// parity --browser: the same comparison inside headless Chromium (WebGPU on SwiftShader's fallback adapter here).
parityOn('webgpu', { browser: true, cases: GPU_CASES });
