import { GPU_CASES, parityOn } from './parity_suite';

// parity --browser: the same comparison inside headless Chromium (WebGL2 on SwiftShader here).
parityOn('webgl', { browser: true, cases: GPU_CASES });
