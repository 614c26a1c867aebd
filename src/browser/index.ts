/**
 * depth-anything-tfjs in the browser (the package's `browser` entry), with every tfjs backend:
 *
 *   import { DepthAnything, drawDepth } from 'depth-anything-tfjs';
 *   const model = await DepthAnything.load(url, { backend: 'auto', wasmPaths: '/wasm/' });
 *   drawDepth(canvas, await model.predict(img));
 *
 * For a smaller bundle import 'depth-anything-tfjs/core' and only the backends you need.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { provideWasmPathsSetter } from '../backends/browser';

provideWasmPathsSetter((paths) => setWasmPaths(paths as string));

export * from './core';
