/**
 * CameraDec (model/cam_dec.py): an MLP on the last intermediate layer's camera token ->
 * [t (3), quaternion xyzw (4), fov_h, fov_w (ReLU)]. `model.cam_dec.*`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LinearWeights, linear, loadLinear } from '../nn/linear';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';

const KEY = 'model.cam_dec';

export interface CameraDecWeights {
  backbone: [LinearWeights, LinearWeights]; // Sequential indices 0 and 2, each followed by a ReLU
  fc_t: LinearWeights;
  fc_qvec: LinearWeights;
  fc_fov: LinearWeights; // fc_fov.0, then ReLU
}

export function loadCameraDec(sd: StateDictReader, dimIn: number): CameraDecWeights {
  return {
    backbone: [loadLinear(sd, `${KEY}.backbone.0`, dimIn, dimIn), loadLinear(sd, `${KEY}.backbone.2`, dimIn, dimIn)],
    fc_t: loadLinear(sd, `${KEY}.fc_t`, dimIn, 3),
    fc_qvec: loadLinear(sd, `${KEY}.fc_qvec`, dimIn, 4),
    fc_fov: loadLinear(sd, `${KEY}.fc_fov.0`, dimIn, 2),
  };
}

/** camera tokens [S, D] -> pose encoding [1, S, 9]. */
export function cameraDec(feat: tf.Tensor2D, w: CameraDecWeights, tap?: Tap): tf.Tensor3D {
  const S = feat.shape[0];
  const h0 = linear(feat, w.backbone[0]);
  tap?.(`${KEY}.backbone.0`, h0);
  const h2 = linear(tf.relu(h0), w.backbone[1]);
  tap?.(`${KEY}.backbone.2`, h2);
  const h = tf.relu(h2);
  tap?.(`${KEY}.backbone`, h);
  const t = linear(h, w.fc_t);
  tap?.(`${KEY}.fc_t`, t);
  const q = linear(h, w.fc_qvec);
  tap?.(`${KEY}.fc_qvec`, q);
  const fov0 = linear(h, w.fc_fov);
  tap?.(`${KEY}.fc_fov.0`, fov0);
  const fov = tf.relu(fov0);
  tap?.(`${KEY}.fc_fov`, fov);
  const enc = tf.reshape(tf.concat([t, q, fov], -1), [1, S, 9]) as tf.Tensor3D;
  tap?.(KEY, enc);
  return enc;
}
