import { DA3_CASES } from '../fixture_cases';
import { da3ParityOn } from './parity_suite';

// parity --browser: both cases end to end (the page decodes the PNGs) on WebGL2 (SwiftShader here).
// WebGPU in Chromium (SwiftShader's adapter, about 30 s a case, mostly shader compilation) with
// BROWSER_MODELS_FULL=1 (docs/testing.md); webgpu in Node runs in CI (parity_webgpu.test.ts).
da3ParityOn('webgl', { browser: true });
if (process.env.BROWSER_MODELS_FULL) da3ParityOn('webgpu', { browser: true, cases: DA3_CASES });
