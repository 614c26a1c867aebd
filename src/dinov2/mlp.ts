import * as tf from '@tensorflow/tfjs-core';
import { blockGelu, blockLinearGelu } from '../backends/choices';
import { LinearWeights, linear, loadLinear } from '../nn/linear';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';

/** dinov2 Mlp: fc1 -> exact GELU -> fc2. */
export interface MlpWeights {
  kind: 'mlp';
  key: string;
  fc1: LinearWeights;
  fc2: LinearWeights;
}

export function loadMlp(sd: StateDictReader, key: string, dim: number, hidden: number): MlpWeights {
  return { kind: 'mlp', key, fc1: loadLinear(sd, `${key}.fc1`, dim, hidden), fc2: loadLinear(sd, `${key}.fc2`, hidden, dim) };
}

export function mlp(x: tf.Tensor3D, w: MlpWeights, tap?: Tap): tf.Tensor3D {
  // Untapped, fc1 and GELU may be one product (backends/choices.ts).
  if (!tap) return linear(blockLinearGelu(x, w.fc1), w.fc2) as tf.Tensor3D;
  const h = linear(x, w.fc1);
  tap?.(`${w.key}.fc1`, h);
  const a = blockGelu(h);
  tap?.(`${w.key}.act`, a);
  return linear(a, w.fc2) as tf.Tensor3D;
}
