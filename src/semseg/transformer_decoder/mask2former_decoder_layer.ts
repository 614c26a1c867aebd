/**
 * mmdet `Mask2FormerTransformerDecoderLayer`: masked cross-attention to one pixel-decoder level,
 * norm, self-attention among the queries, norm, FFN, norm (post-norm throughout).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayerNormWeights, layerNorm, loadLayerNorm } from '../../nn/layer_norm';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';
import { FfnWeights, ffn, loadFfn } from './ffn';
import { MultiheadAttentionWeights, loadMultiheadAttention, multiheadAttention } from './multihead_attention';

const LN_EPS = 1e-5;

export interface DecoderLayerWeights {
  key: string;
  crossAttn: MultiheadAttentionWeights;
  selfAttn: MultiheadAttentionWeights;
  norms: [LayerNormWeights, LayerNormWeights, LayerNormWeights];
  ffn: FfnWeights;
}

export function loadDecoderLayer(sd: StateDictReader, key: string, C: number, heads: number, hidden: number): DecoderLayerWeights {
  return {
    key,
    crossAttn: loadMultiheadAttention(sd, `${key}.cross_attn`, C, heads),
    selfAttn: loadMultiheadAttention(sd, `${key}.self_attn`, C, heads),
    norms: [0, 1, 2].map((i) => loadLayerNorm(sd, `${key}.norms.${i}`, C)) as DecoderLayerWeights['norms'],
    ffn: loadFfn(sd, `${key}.ffn`, C, hidden),
  };
}

export function decoderLayer(
  query: tf.Tensor3D, memory: tf.Tensor3D, queryPos: tf.Tensor3D, memoryPos: tf.Tensor3D, crossMask: tf.Tensor3D,
  w: DecoderLayerWeights, tap?: Tap,
): tf.Tensor3D {
  const k = w.key;
  const c = multiheadAttention(query, memory, memory, queryPos, memoryPos, w.crossAttn, crossMask);
  tap?.(`${k}.cross_attn`, c);
  const n0 = layerNorm(c, w.norms[0], LN_EPS) as tf.Tensor3D;
  tap?.(`${k}.norms.0`, n0);
  const s = multiheadAttention(n0, n0, n0, queryPos, queryPos, w.selfAttn);
  tap?.(`${k}.self_attn`, s);
  const n1 = layerNorm(s, w.norms[1], LN_EPS) as tf.Tensor3D;
  tap?.(`${k}.norms.1`, n1);
  const f = ffn(n1, w.ffn);
  tap?.(`${k}.ffn`, f);
  const n2 = layerNorm(f, w.norms[2], LN_EPS) as tf.Tensor3D;
  tap?.(`${k}.norms.2`, n2);
  tap?.(k, n2);
  return n2;
}
