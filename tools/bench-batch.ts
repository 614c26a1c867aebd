/**
 * Is one forward of batch B faster than B single forwards? (the server's --max-batch default).
 *   npx tsx tools/bench-batch.ts WEIGHTS BACKEND INPUT_SIZE [B...]
 */
import * as tf from '@tensorflow/tfjs-core';
import { DepthAnything } from '../src/node/depth_anything';
import { RgbImage } from '../src/pipeline/rgb';

async function main(): Promise<void> {
  const [weights, backend, sizeArg, ...bs] = process.argv.slice(2);
  const inputSize = Number(sizeArg);
  const model = await DepthAnything.load(weights, { backend: backend as 'wasm' });
  const img = (seed: number): RgbImage => ({ width: 640, height: 480, data: Uint8Array.from({ length: 640 * 480 * 3 }, (_, i) => (i * 7 + seed * 13) % 251) });
  for (const B of (bs.length ? bs : ['1', '2', '4']).map(Number)) {
    const imgs = Array.from({ length: B }, (_, k) => img(k));
    await model.predictRgbBatch(imgs, { inputSize }); // warm-up
    const n = Math.max(2, Math.round(8 / B));
    let t0 = performance.now();
    for (let r = 0; r < n; r++) for (const im of imgs) await model.predictRgb(im, { inputSize });
    const single = (performance.now() - t0) / (n * B);
    t0 = performance.now();
    for (let r = 0; r < n; r++) await model.predictRgbBatch(imgs, { inputSize });
    const batched = (performance.now() - t0) / (n * B);
    console.log(`${backend} input ${inputSize} B=${B}: ${single.toFixed(1)} ms/image single, ${batched.toFixed(1)} ms/image batched (${(single / batched).toFixed(2)}x); tensors ${tf.memory().numTensors}`);
  }
  model.dispose();
}
void main();
