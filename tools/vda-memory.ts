/**
 * Maintainer script: the peak tensor memory of one offline VDA window on random weights of a real
 * configuration (tf.profile), and the kernels around the peak (what to split next).
 *
 *   [BUDGET=MiB] [TRACE=MiB] npx tsx tools/vda-memory.ts [vits|vitb|vitl] FRAMES H W [BACKEND]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, BackendName } from '../src/backends/node';
import { setBandBudgetForTesting } from '../src/backends/limits';
import { vdaConfig } from '../src/config/vda';
import { randomVdaStateDict } from '../src/verify/bench';
import { bindVdaWeights, disposeVdaWeights, vdaForward } from '../src/vda/video_depth';

async function main(): Promise<void> {
  const [enc = 'vits', t = '32', h = '266', w = '476', backend = 'wasm'] = process.argv.slice(2);
  await initBackend(backend as BackendName);
  // BUDGET (MiB): the split passes' budget forced smaller, to see the peak at a large size's band count.
  if (process.env.BUDGET) setBandBudgetForTesting(Number(process.env.BUDGET) * 2 ** 20);
  const cfg = vdaConfig(enc as 'vits', false);
  const weights = bindVdaWeights(randomVdaStateDict(cfg, 7), cfg, 'random');
  const T = Number(t), H = Number(h), W = Number(w);
  const base = tf.memory().numBytes;
  const x = tf.randomUniform([T, H, W, 3], -2, 2) as tf.Tensor4D;
  const t0 = Date.now();
  const info = await tf.profile(async () => {
    const d = vdaForward(weights, cfg, x, T);
    await d.data();
    d.dispose();
  });
  const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  console.log(`${enc} T=${T} ${H}x${W} on ${tf.getBackend()}: peak ${MiB(info.peakBytes - base)} of tensors beyond the weights (${MiB(base)}), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const k = info.kernels;
  const at = k.reduce((best, r, i) => (r.totalBytesSnapshot > k[best].totalBytesSnapshot ? i : best), 0);
  if (process.env.TRACE) {
    let last = 0;
    k.forEach((r, i) => {
      const tot = r.totalBytesSnapshot - base;
      if (Math.abs(tot - last) > Number(process.env.TRACE) * 2 ** 20) { console.log(`${i} ${r.name} ${JSON.stringify(r.outputShapes)} ${MiB(tot)}`); last = tot; }
    });
  }
  for (let i = Math.max(0, at - 12); i <= Math.min(k.length - 1, at + 3); i++) {
    const r = k[i];
    console.log(`${i === at ? '>' : ' '} ${r.name.padEnd(22)} out ${JSON.stringify(r.outputShapes)} total ${MiB(r.totalBytesSnapshot - base)}`);
  }
  x.dispose();
  disposeVdaWeights(weights);
}

main().catch((e: Error) => { console.error(e); process.exitCode = 1; });
