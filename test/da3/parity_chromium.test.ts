import { DA3_CASES } from '../fixture_cases';
import { da3ParityOn } from './parity_suite';

// parity --browser: both cases end to end (the page decodes the PNGs) on WebGL2 (SwiftShader here),
// and the any-view case on WebGPU (SwiftShader's adapter in the shared WebGPU Chromium).
// BROWSER_MODELS_FULL=1 adds the mono case on WebGPU (about 25 s more).
da3ParityOn('webgl', { browser: true });
da3ParityOn('webgpu', { browser: true, cases: process.env.BROWSER_MODELS_FULL ? DA3_CASES : ['da3-tiny-anyview'] });
