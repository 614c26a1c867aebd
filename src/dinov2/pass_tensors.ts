/**
 * The DINOv2 encoder's largest tensors for a pass on an H x W input (a multiple of the patch size),
 * named under the checkpoint prefix of the model that holds it (`pretrained`, `backbone.dinov2`):
 * what the backend limits (src/backends/limits.ts) are checked against, for depth and segmentation.
 */
import type { PassTensor } from '../backends/limits';
import { attentionLayout } from '../backends/choices';
import { ModelConfig } from '../config/depth';
import { swigluHidden } from './swiglu_ffn';

export function encoderPassTensors(cfg: ModelConfig, prefix: string, H: number, W: number, batch: number, backend: string): PassTensor[] {
  const N = 1 + (H / cfg.patchSize) * (W / cfg.patchSize);
  const C = cfg.embedDim;
  const hidden = cfg.ffn === 'swiglu' ? 2 * swigluHidden(C) : 4 * C;
  const scores = prefix === 'pretrained' ? 'attention scores' : `${prefix.split('.')[0]} attention scores`;
  return [
    { name: `${prefix}.blocks.*.attn.qkv`, shape: [batch, N, 3 * C] },
    // The fused layout splits its scores by head and query rows to fit (src/dinov2/attention.ts
    // attentionChunks): it fits whenever one query row of one head does.
    attentionLayout(backend) === 'fused'
      ? { name: `${scores} (one head, one query row at least)`, shape: [batch, 1, 1, N] }
      : { name: `${scores} (one head)`, shape: [N, N] },
    { name: `${prefix}.blocks.*.mlp hidden`, shape: [batch, N, hidden] },
  ];
}
