/** Seeded random weights for any Depth Anything 3 configuration (the paths no fixture case shows). */
import * as tf from '@tensorflow/tfjs-core';
import { Da3Config } from '../../src/config/da3';
import { Da3Weights, loadDa3 } from '../../src/da3/da3';
import { RawTensor, StateDictReader } from '../../src/weights/state_dict';

/** mulberry32 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hands out random tensors of whatever shape is asked for (norm weights and layer scales near 1 and 0.1). */
class RandomReader extends StateDictReader {
  constructor(private readonly next: () => number) { super(new Map(), 'synthetic'); }
  override take(key: string, shape: readonly number[]): RawTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = /norm[^.]*\.weight$|\.\d+\.2\.weight$/.test(key);
    const data = Float32Array.from({ length: n }, () => (norm ? 1 : 0) + (this.next() - 0.5) * (key.endsWith('gamma') ? 0.2 : 0.4));
    return { shape: [...shape], data };
  }
}

export function syntheticWeights(cfg: Da3Config, seed = 1): Da3Weights {
  const reader = new RandomReader(rng(seed));
  return tf.tidy(() => loadDa3(reader, cfg) as unknown as tf.TensorContainer) as unknown as Da3Weights;
}

/** A tiny configuration of the given layout (embed 32, 2 heads, `depth` blocks, head features 8). */
export function tinyConfig(opts: { name?: 'vits' | 'vitg'; depth?: number; alt?: number; outLayers?: [number, number, number, number]; mono?: boolean } = {}): Da3Config {
  const { name = 'vits', depth = 6, alt = 2, outLayers = [2, 3, 4, 5], mono = false } = opts;
  const C = 32;
  return mono
    ? { net: { name, embedDim: C, depth, numHeads: 2, ffn: name === 'vitg' ? 'swiglu' : 'mlp', outLayers, altStart: -1, qknormStart: -1, ropeStart: -1, catToken: false }, head: { kind: 'dpt', dimIn: C, outputDim: 1, features: 8, outChannels: [8, 16, 32, 32] } }
    : {
      net: { name, embedDim: C, depth, numHeads: 2, ffn: name === 'vitg' ? 'swiglu' : 'mlp', outLayers, altStart: alt, qknormStart: alt, ropeStart: alt, catToken: true },
      head: { kind: 'dualdpt', dimIn: 2 * C, outputDim: 2, features: 8, outChannels: [4, 8, 16, 32] },
      camEnc: { dimOut: C },
      camDec: { dimIn: 2 * C },
    };
}

export function randomInput(views: number, H: number, W: number, seed = 7): tf.Tensor {
  const r = rng(seed);
  return tf.tensor(Float32Array.from({ length: views * 3 * H * W }, () => (r() - 0.5) * 4), [1, views, 3, H, W]);
}
