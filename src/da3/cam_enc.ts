/**
 * CameraEnc (model/cam_enc.py): known cameras -> one token per view for the encoder's class slot
 * at alt_start. pose encoding of the camera-to-world pose -> pose_branch (Mlp 9 -> C/2 -> C,
 * GELU) -> token_norm -> trunk (4 blocks over the views, 16 heads, LayerNorm eps 1e-5,
 * LayerScale) -> trunk_norm. `model.cam_enc.*`. Its blocks are the shared DINOv2 blocks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CAM_ENC, camEncBlockConfig } from '../config/da3';
import { BlockWeights, block, loadBlock } from '../dinov2/block';
import { MlpWeights, mlp } from '../dinov2/mlp';
import { loadLinear } from '../nn/linear';
import { LayerNormWeights, layerNorm, loadLayerNorm } from '../nn/layer_norm';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { affineInverse4, poseEncoding } from './utils/transform';

const KEY = 'model.cam_enc';
const LN_EPS = 1e-5;

export interface CameraEncWeights {
  pose_branch: MlpWeights;
  token_norm: LayerNormWeights;
  trunk: BlockWeights[];
  trunk_norm: LayerNormWeights;
}

export function loadCameraEnc(sd: StateDictReader, dimOut: number): CameraEncWeights {
  const cfg = camEncBlockConfig(dimOut);
  return {
    // Mlp(in 9, hidden C/2, out C): fc1, GELU, fc2.
    pose_branch: { kind: 'mlp', key: `${KEY}.pose_branch`, fc1: loadLinear(sd, `${KEY}.pose_branch.fc1`, CAM_ENC.dimIn, dimOut / 2), fc2: loadLinear(sd, `${KEY}.pose_branch.fc2`, dimOut / 2, dimOut) },
    token_norm: loadLayerNorm(sd, `${KEY}.token_norm`, dimOut),
    // The per-head attention layout is the backend's choice, as in the ViT.
    trunk: Array.from({ length: CAM_ENC.trunkDepth }, (_, i) => loadBlock(sd, `${KEY}.trunk.${i}`, cfg)),
    trunk_norm: loadLayerNorm(sd, `${KEY}.trunk_norm`, dimOut),
  };
}

/** Pose encodings [S * 9] (float32) of normalised world-to-camera [S, 4, 4] and K [S, 3, 3] for an H x W input. */
export function cameraPoseEncodings(ext: ArrayLike<number>, K: ArrayLike<number>, S: number, H: number, W: number): Float32Array {
  const out = new Float32Array(S * 9);
  for (let s = 0; s < S; s++) {
    const c2w = affineInverse4(Array.from({ length: 16 }, (_, i) => ext[s * 16 + i]));
    out.set(poseEncoding(c2w, Array.from({ length: 9 }, (_, i) => K[s * 9 + i]), H, W), s * 9);
  }
  return out;
}

/** Pose encodings [S, 9] -> camera tokens [S, C]. */
export function cameraEnc(enc: tf.Tensor2D, w: CameraEncWeights, tap?: Tap): tf.Tensor2D {
  const S = enc.shape[0];
  const x = tf.reshape(enc, [1, S, 9]) as tf.Tensor3D;
  const p = mlp(x, w.pose_branch, tap);
  tap?.(`${KEY}.pose_branch`, p);
  let t = layerNorm(p, w.token_norm, LN_EPS) as tf.Tensor3D;
  tap?.(`${KEY}.token_norm`, t);
  for (const b of w.trunk) t = block(t, b, tap);
  tap?.(`${KEY}.trunk`, t);
  const out = layerNorm(t, w.trunk_norm, LN_EPS) as tf.Tensor3D;
  tap?.(`${KEY}.trunk_norm`, out);
  tap?.(KEY, out);
  return tf.reshape(out, [S, out.shape[2]]) as tf.Tensor2D;
}
