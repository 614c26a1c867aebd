/**
 * Each layer alone, fed the reference's recorded input to that layer and compared with the
 * reference's recorded output (so a mismatch points at one module, not at the whole pass).
 * v2-tiny covers the plain MLP path; v2-tiny-giantlike SwiGLU, BatchNorm and the class-token readout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { bindWeights, DepthAnythingWeights, disposeWeights } from '../../src/depth/depth_anything';
import { attention } from '../../src/dinov2/attention';
import { block } from '../../src/dinov2/block';
import { mlp } from '../../src/dinov2/mlp';
import { patchEmbed } from '../../src/dinov2/patch_embed';
import { swiglu } from '../../src/dinov2/swiglu_ffn';
import { interpolatePosEncoding, prepareTokens } from '../../src/dinov2/vision_transformer';
import { dptHead, outputConvs } from '../../src/dpt/dpt_head';
import { featureFusionBlock } from '../../src/dpt/feature_fusion_block';
import { reassemble } from '../../src/dpt/reassemble';
import { residualConvUnit } from '../../src/dpt/residual_conv_unit';
import { conv2d } from '../../src/nn/conv2d';
import { layerNorm } from '../../src/nn/layer_norm';
import { Case, activation, expectParity, loadCase, useBackend } from '../helpers';

describe.each(['v2-tiny', 'v2-tiny-giantlike'])('layers of %s (cpu)', (name) => {
  let c: Case;
  let w: DepthAnythingWeights;
  const act = (key: string) => activation(c, key);
  const grid = () => {
    const [, , H, W] = c.activations.tensors.get('input')!.shape;
    return [H / 14, W / 14] as const;
  };

  beforeAll(async () => {
    await useBackend('cpu');
    c = await loadCase(name);
    w = bindWeights(c.stateDict, c.config, name);
  });
  afterAll(() => disposeWeights(w));

  const check = (key: string, f: () => tf.Tensor) => {
    const before = tf.memory().numTensors;
    tf.tidy(() => expectParity(f(), act(key), `${name} ${key}`));
    expect(tf.memory().numTensors).toBe(before);
  };

  test('patch_embed', () => check('pretrained.patch_embed', () => patchEmbed(act('input') as tf.Tensor4D, w.pretrained.patchEmbed)));
  test('pos_embed interpolation (bicubic, scale factor with the 0.1 offset)', () => {
    const [h, ww] = grid();
    check('pretrained.pos_embed_interp', () => interpolatePosEncoding(w.pretrained, c.config, h, ww));
  });
  test('tokens (class token + position embedding)', () => check('pretrained.tokens', () => prepareTokens(act('input') as tf.Tensor4D, w.pretrained, c.config)));
  test('norm1 (LayerNorm eps 1e-6)', () => check('pretrained.blocks.0.norm1', () => layerNorm(act('pretrained.tokens'), w.pretrained.blocks[0].norm1, 1e-6)));
  test('attention', () => check('pretrained.blocks.0.attn', () => attention(act('pretrained.blocks.0.norm1') as tf.Tensor3D, w.pretrained.blocks[0].attn)));
  test('ffn (mlp or fused SwiGLU)', () => check('pretrained.blocks.0.mlp', () => {
    const ffn = w.pretrained.blocks[0].mlp;
    const x = act('pretrained.blocks.0.norm2') as tf.Tensor3D;
    return ffn.kind === 'swiglu' ? swiglu(x, ffn) : mlp(x, ffn);
  }));
  test('every block from its recorded input', () => {
    for (let i = 0; i < c.config.depth; i++) {
      const input = i === 0 ? 'pretrained.tokens' : `pretrained.blocks.${i - 1}`;
      check(`pretrained.blocks.${i}`, () => block(act(input) as tf.Tensor3D, w.pretrained.blocks[i]));
    }
  });
  test('final norm of the first intermediate layer', () => check('pretrained.norm', () => layerNorm(act(`pretrained.blocks.${c.config.intermediateLayers[0]}`), w.pretrained.norm, 1e-6)));
  test('reassemble: readout, projects, resize_layers', () => {
    const [h, ww] = grid();
    for (let i = 0; i < 4; i++) {
      check(`depth_head.resize_layers.${i}`, () => reassemble(
        { patch: act(`features.${i}.patch`) as tf.Tensor3D, cls: act(`features.${i}.cls`) as tf.Tensor2D }, i, w.depth_head.levels[i], h, ww));
    }
  });
  test('layerN_rn', () => {
    const s = w.depth_head.scratch;
    const rn = [s.layer1_rn, s.layer2_rn, s.layer3_rn, s.layer4_rn];
    for (let i = 0; i < 4; i++) check(`depth_head.scratch.layer${i + 1}_rn`, () => conv2d(act(`depth_head.resize_layers.${i}`) as tf.Tensor4D, rn[i]));
  });
  test('residual conv unit', () => check('depth_head.scratch.refinenet3.resConfUnit1', () =>
    residualConvUnit(act('depth_head.scratch.layer3_rn') as tf.Tensor4D, w.depth_head.scratch.refinenet3.resConfUnit1!)));
  test('fusion blocks', () => {
    const s = w.depth_head.scratch;
    const size = (k: string) => { const e = c.activations.tensors.get(k)!; return [e.shape[2], e.shape[3]] as [number, number]; };
    check('depth_head.scratch.refinenet4', () => featureFusionBlock(act('depth_head.scratch.layer4_rn') as tf.Tensor4D, undefined, s.refinenet4, size('depth_head.scratch.layer3_rn')));
    check('depth_head.scratch.refinenet3', () => featureFusionBlock(act('depth_head.scratch.refinenet4') as tf.Tensor4D, act('depth_head.scratch.layer3_rn') as tf.Tensor4D, s.refinenet3, size('depth_head.scratch.layer2_rn')));
    check('depth_head.scratch.refinenet1', () => featureFusionBlock(act('depth_head.scratch.refinenet2') as tf.Tensor4D, act('depth_head.scratch.layer1_rn') as tf.Tensor4D, s.refinenet1, undefined));
  });
  test('output convs', () => {
    const [h, ww] = grid();
    check('depth_head.scratch.output_conv2', () => outputConvs(act('depth_head.scratch.refinenet1') as tf.Tensor4D, h, ww, w.depth_head.scratch, w.depth_head.metric));
  });
  test('whole head from the recorded features', () => {
    const [h, ww] = grid();
    check('depth_head', () => dptHead([0, 1, 2, 3].map((i) => ({ patch: act(`features.${i}.patch`) as tf.Tensor3D, cls: act(`features.${i}.cls`) as tf.Tensor2D })), h, ww, w.depth_head));
  });
});
