import { VDA_CASES } from '../fixture_cases';
import { vdaParityOn } from './parity_suite';

// parity --browser: the model case on WebGL2 (SwiftShader here). The pipeline and streaming cases
// (the page decodes the PNG frames), and every case on WebGPU, take 1 to 4.5 minutes each on
// SwiftShader: BROWSER_MODELS_FULL=1 runs them (docs/testing.md).
const FULL = Boolean(process.env.BROWSER_MODELS_FULL);
vdaParityOn('webgl', FULL ? VDA_CASES : ['vda-tiny'], { browser: true });
if (FULL) vdaParityOn('webgpu', VDA_CASES, { browser: true });
