import { segParityOn } from './parity_suite';

// parity --browser for segmentation weights: inside headless Chromium (WebGL2 on SwiftShader here).
segParityOn('webgl', { browser: true });
