import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { blockLayerNorm, blockScaleAdd } from '../backends/choices';
import { LayerNormWeights, loadLayerNorm } from '../nn/layer_norm';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { AttentionOptions, AttentionWeights, attention, loadAttention } from './attention';
import { RopeTables } from './rope';
import { LayerScaleWeights, layerScale, loadLayerScale } from './layer_scale';
import { MlpWeights, loadMlp, mlp } from './mlp';
import { SwiGluWeights, loadSwiGlu, swiglu } from './swiglu_ffn';

/** dinov2 Block (pre-norm; drop-path is training-only). */
export interface BlockWeights {
  key: string;
  norm1: LayerNormWeights;
  attn: AttentionWeights;
  ls1?: LayerScaleWeights;
  norm2: LayerNormWeights;
  mlp: MlpWeights | SwiGluWeights;
  ls2?: LayerScaleWeights;
  eps: number;
}

/** `attn`: Depth Anything 3's QK norm and RoPE for this block. */
export function loadBlock(sd: StateDictReader, key: string, cfg: ModelConfig, attn: AttentionOptions = {}): BlockWeights {
  const C = cfg.embedDim;
  return {
    key,
    norm1: loadLayerNorm(sd, `${key}.norm1`, C),
    attn: loadAttention(sd, `${key}.attn`, cfg, undefined, attn),
    ls1: cfg.layerScale ? loadLayerScale(sd, `${key}.ls1`, C) : undefined,
    norm2: loadLayerNorm(sd, `${key}.norm2`, C),
    mlp: cfg.ffn === 'swiglu' ? loadSwiGlu(sd, `${key}.mlp`, C) : loadMlp(sd, `${key}.mlp`, C, 4 * C),
    ls2: cfg.layerScale ? loadLayerScale(sd, `${key}.ls2`, C) : undefined,
    eps: cfg.layerNormEps,
  };
}

/** x + ls(y), tapped as `key` (LayerScale's output); untapped, one fused pass where chosen (backends/choices.ts). */
function residual(x: tf.Tensor3D, y: tf.Tensor3D, ls: LayerScaleWeights | undefined, key: string, tap?: Tap): tf.Tensor3D {
  if (ls && !tap) return blockScaleAdd(x, y, ls.gamma) as tf.Tensor3D;
  const s = layerScale(y, ls);
  tap?.(key, s);
  return tf.add(x, s) as tf.Tensor3D;
}

/** x + ls1(attn(norm1(x))), then + ls2(mlp(norm2(x))). [B, N, C] -> [B, N, C]. */
export function block(x: tf.Tensor3D, w: BlockWeights, tap?: Tap, rope?: RopeTables): tf.Tensor3D {
  const k = w.key;
  const n1 = blockLayerNorm(x, w.norm1, w.eps) as tf.Tensor3D;
  tap?.(`${k}.norm1`, n1);
  const a = attention(n1, w.attn, tap, rope);
  tap?.(`${k}.attn`, a);
  const x1 = residual(x, a, w.ls1, `${k}.ls1`, tap);
  const n2 = blockLayerNorm(x1, w.norm2, w.eps) as tf.Tensor3D;
  tap?.(`${k}.norm2`, n2);
  const m = w.mlp.kind === 'swiglu' ? swiglu(n2, w.mlp, tap) : mlp(n2, w.mlp, tap);
  tap?.(`${k}.mlp`, m);
  const out = residual(x1, m, w.ls2, `${k}.ls2`, tap);
  tap?.(k, out);
  return out;
}
