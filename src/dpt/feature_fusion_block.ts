import * as tf from '@tensorflow/tfjs-core';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { resizeBilinearAlignCorners } from '../nn/interpolate';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { ResidualConvUnitWeights, loadResidualConvUnit, residualConvUnit } from './residual_conv_unit';

/**
 * FeatureFusionBlock (`depth_head.scratch.refinenetN`). refinenet4 gets no skip input, so its
 * resConfUnit1 is never called (its weights are in every checkpoint, and ignored).
 */
export interface FeatureFusionBlockWeights {
  key: string;
  resConfUnit1?: ResidualConvUnitWeights;
  resConfUnit2: ResidualConvUnitWeights;
  out_conv: Conv2dWeights;
}

export function loadFeatureFusionBlock(sd: StateDictReader, key: string, features: number, useBn: boolean, hasSkip: boolean): FeatureFusionBlockWeights {
  return {
    key,
    resConfUnit1: hasSkip ? loadResidualConvUnit(sd, `${key}.resConfUnit1`, features, useBn) : undefined,
    resConfUnit2: loadResidualConvUnit(sd, `${key}.resConfUnit2`, features, useBn),
    out_conv: loadConv2d(sd, `${key}.out_conv`, { inC: features, outC: features, k: 1 }),
  };
}

/**
 * (x [+ resConfUnit1(skip)]) -> resConfUnit2 -> bilinear (align_corners) to `size`, or x2 when
 * no size is given -> out_conv 1x1. NHWC.
 */
export function featureFusionBlock(x: tf.Tensor4D, skip: tf.Tensor4D | undefined, w: FeatureFusionBlockWeights, size: [number, number] | undefined, tap?: Tap): tf.Tensor4D {
  // Each map this block makes is freed once the next is made (taps keep clones): at ViT-L 518 the
  // last block's maps are 34 and 136 MiB each, and all of them at once set the pass's peak.
  let out = x;
  const next = (t: tf.Tensor4D): tf.Tensor4D => {
    if (t !== out && out !== x) out.dispose();
    return (out = t);
  };
  let calls = 0;
  const activation = () => `${w.key}.resConfUnit1.activation${calls++ ? `#${calls - 1}` : ''}`;
  if (skip) {
    if (!w.resConfUnit1) throw new Error(`${w.key} was built without a skip input`);
    const res = residualConvUnit(skip, w.resConfUnit1, tap, { key: `${w.key}.resConfUnit1`, activation });
    tap?.(`${w.key}.resConfUnit1`, res);
    next(tf.add(out, res) as tf.Tensor4D);
    res.dispose();
    tap?.(`${w.key}.skip_add.activation_post_process`, out);
  }
  next(residualConvUnit(out, w.resConfUnit2, tap, { key: `${w.key}.resConfUnit2`, activation }));
  tap?.(`${w.key}.resConfUnit2`, out);
  const [outH, outW] = size ?? [out.shape[1] * 2, out.shape[2] * 2];
  next(resizeBilinearAlignCorners(out, outH, outW));
  next(conv2d(out, w.out_conv));
  tap?.(`${w.key}.out_conv`, out);
  tap?.(w.key, out);
  return out;
}
