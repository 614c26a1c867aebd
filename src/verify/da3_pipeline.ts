/**
 * Every tensor the DA3 fixtures record outside the network, computed by src/pipeline/da3 under the
 * fixture's key names, for `parity` and the tests:
 *
 *   da3PipelineTensors({ pre, net, ... }) -> { float: Map<key, TensorToWrite>, exact: Map<key, ExactTensor> }
 *
 * `pre`: da3Preprocess of the case's PNG files (and cameras); `net`: the network's output dict
 * (the recorded `model.*` tensors in tests, our network's in `parity`). Float keys go through
 * `compareWithReference` (the tolerance rule); `exact` keys (uint8 masks and images) must be equal.
 * Keys: `input`, `preprocess.1/.2`, `extrinsics_normalized`, `align_poses_umeyama.0..3` (known
 * cameras), `model.compute_sky_mask`, `model.set_sky_regions_to_max_depth.args.max_depth`
 * (mono), `prediction.*`, `metric.depth` (when `metricK` is given), `glb.*` (when `exportGlb`).
 */
import { TensorToWrite } from '../io/safetensors';
import { da3AlignToInputExtrinsics, da3NormalizeExtrinsics } from '../pipeline/da3/cameras';
import { da3ApplyMetricScaling, da3SkyPostprocess } from '../pipeline/da3/postprocess';
import { Da3NetOutput, da3Prediction } from '../pipeline/da3/prediction';
import { Da3Preprocessed } from '../pipeline/da3/preprocess';
import { Da3SceneOptions, da3Scene } from '../pipeline/da3/scene';

export interface ExactTensor {
  shape: number[];
  data: Uint8Array;
}

export interface Da3PipelineTensors {
  float: Map<string, TensorToWrite>;
  exact: Map<string, ExactTensor>;
}

export function da3PipelineTensors(args: {
  pre: Da3Preprocessed;
  net: Da3NetOutput;
  alignToInputExtScale?: boolean;
  /** `metric.intrinsics` `[N, 3, 3]`: also compute `metric.depth` from the net's depth. */
  metricK?: Float32Array;
  /** Also compute the `glb.*` arrays (any-view). */
  exportGlb?: boolean;
  sceneOptions?: Da3SceneOptions;
}): Da3PipelineTensors {
  const { pre, net } = args;
  const { views: n, height: h, width: w } = pre;
  const float = new Map<string, TensorToWrite>();
  const exact = new Map<string, ExactTensor>();
  const put = (name: string, shape: number[], data: ArrayLike<number>): void => {
    float.set(name, { name, shape, data: Float32Array.from(data) });
  };
  put('input', [1, n, 3, h, w], pre.input);
  if (pre.extrinsics && pre.intrinsics) {
    put('preprocess.1', [n, 4, 4], pre.extrinsics);
    put('preprocess.2', [n, 3, 3], pre.intrinsics);
    put('extrinsics_normalized', [1, n, 4, 4], da3NormalizeExtrinsics(pre.extrinsics, n));
    if (net.extrinsics) {
      const a = da3AlignToInputExtrinsics(net.extrinsics, pre.extrinsics, net.depth, n, args.alignToInputExtScale ?? true);
      put('align_poses_umeyama.0', [3, 3], a.r);
      put('align_poses_umeyama.1', [3], a.t);
      put('align_poses_umeyama.2', [], [a.s]);
      put('align_poses_umeyama.3', [n, 4, 4], a.alignedExtrinsics);
    }
  }
  if (net.sky) {
    const s = da3SkyPostprocess(net.depth, net.sky);
    exact.set('model.compute_sky_mask', { shape: [1, n, h, w], data: s.nonSkyMask });
    if (s.maxDepth !== null) put('model.set_sky_regions_to_max_depth.args.max_depth', [1], [s.maxDepth]);
  }
  const p = da3Prediction(net, pre, { alignToInputExtScale: args.alignToInputExtScale });
  put('prediction.depth', [n, h, w], p.depth);
  if (p.conf) put('prediction.conf', [n, h, w], p.conf);
  if (p.extrinsics) put('prediction.extrinsics', [n, 3, 4], p.extrinsics);
  if (p.intrinsics) put('prediction.intrinsics', [n, 3, 3], p.intrinsics);
  exact.set('prediction.processed_images', { shape: [n, h, w, 3], data: p.processedImages });
  if (p.sky) exact.set('prediction.sky', { shape: [n, h, w], data: p.sky });
  if (args.metricK) put('metric.depth', [1, n, h, w], da3ApplyMetricScaling(p.depth, args.metricK, n, h, w));
  if (args.exportGlb && p.extrinsics && p.intrinsics) {
    const s = da3Scene({ views: n, height: h, width: w, depth: p.depth, conf: p.conf, extrinsics: p.extrinsics, intrinsics: p.intrinsics, processedImages: p.processedImages }, args.sceneOptions);
    if (s.confThresh !== null) put('glb.conf_thresh', [1], [s.confThresh]);
    put('glb.points_world', [s.pointsWorld.length / 3, 3], s.pointsWorld);
    exact.set('glb.colors_world', { shape: [s.colorsWorld.length / 3, 3], data: s.colorsWorld });
    put('glb.alignment', [4, 4], s.alignment);
    put('glb.points', [s.points.length / 3, 3], s.points);
    exact.set('glb.colors', { shape: [s.colors.length / 3, 3], data: s.colors });
    put('glb.camera_frustum_lines', [n, 8, 2, 3], s.cameraFrustumLines);
  }
  return { float, exact };
}
