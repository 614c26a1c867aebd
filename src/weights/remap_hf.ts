/**
 * Hugging Face transformers layout (`DepthAnythingForDepthEstimation`) -> official key names.
 * The inverse of HF's `convert_depth_anything_to_hf.py`: one table of renames, plus q/k/v joined
 * back into `qkv` (rows q, k, v) and the fusion stage's reversed order undone (layer 0 is
 * refinenet4). Also reads the HF `config.json` into our configuration.
 */
import { ConfigError, ConfigJson, ENCODERS, EncoderName, HEADS, ModelConfig, configFromJson } from '../config/depth';
import { StateDict, WeightsError } from './state_dict';

type Rename = [hf: RegExp, official: (m: RegExpMatchArray) => string];

const fusion = (i: string): string => `depth_head.scratch.refinenet${4 - Number(i)}`;

/** Every HF key (except q/k/v, see QKV) and its official name. */
export const HF_RENAMES: readonly Rename[] = [
  [/^backbone\.embeddings\.cls_token$/, () => 'pretrained.cls_token'],
  [/^backbone\.embeddings\.mask_token$/, () => 'pretrained.mask_token'],
  [/^backbone\.embeddings\.position_embeddings$/, () => 'pretrained.pos_embed'],
  [/^backbone\.embeddings\.patch_embeddings\.projection\.(weight|bias)$/, (m) => `pretrained.patch_embed.proj.${m[1]}`],
  [/^backbone\.encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)$/, (m) => `pretrained.blocks.${m[1]}.attn.proj.${m[2]}`],
  [/^backbone\.encoder\.layer\.(\d+)\.layer_scale([12])\.lambda1$/, (m) => `pretrained.blocks.${m[1]}.ls${m[2]}.gamma`],
  [/^backbone\.encoder\.layer\.(\d+)\.(norm[12])\.(weight|bias)$/, (m) => `pretrained.blocks.${m[1]}.${m[2]}.${m[3]}`],
  [/^backbone\.encoder\.layer\.(\d+)\.mlp\.(fc[12])\.(weight|bias)$/, (m) => `pretrained.blocks.${m[1]}.mlp.${m[2]}.${m[3]}`],
  [/^backbone\.layernorm\.(weight|bias)$/, (m) => `pretrained.norm.${m[1]}`],
  [/^neck\.reassemble_stage\.layers\.([0-3])\.projection\.(weight|bias)$/, (m) => `depth_head.projects.${m[1]}.${m[2]}`],
  [/^neck\.reassemble_stage\.layers\.([013])\.resize\.(weight|bias)$/, (m) => `depth_head.resize_layers.${m[1]}.${m[2]}`],
  [/^neck\.convs\.([0-3])\.weight$/, (m) => `depth_head.scratch.layer${Number(m[1]) + 1}_rn.weight`],
  [/^neck\.fusion_stage\.layers\.([0-3])\.projection\.(weight|bias)$/, (m) => `${fusion(m[1])}.out_conv.${m[2]}`],
  [/^neck\.fusion_stage\.layers\.([0-3])\.residual_layer([12])\.convolution([12])\.(weight|bias)$/,
    (m) => `${fusion(m[1])}.resConfUnit${m[2]}.conv${m[3]}.${m[4]}`],
  [/^head\.conv1\.(weight|bias)$/, (m) => `depth_head.scratch.output_conv1.${m[1]}`],
  [/^head\.conv2\.(weight|bias)$/, (m) => `depth_head.scratch.output_conv2.0.${m[1]}`],
  [/^head\.conv3\.(weight|bias)$/, (m) => `depth_head.scratch.output_conv2.2.${m[1]}`],
];

/** HF splits the fused qkv Linear in three; these parts are concatenated back along rows. */
const QKV = /^backbone\.encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$/;
const QKV_ORDER = ['query', 'key', 'value'] as const;

/** True when the keys are in the HF layout rather than the official one. */
export function isHfLayout(keys: Iterable<string>): boolean {
  for (const k of keys) if (/^(backbone|neck|head)\./.test(k)) return true;
  return false;
}

/** Renames an HF state dict to official keys; throws listing every key it cannot place. */
export function remapHfStateDict(hf: StateDict, source: string): StateDict {
  const out: StateDict = new Map();
  const unknown: string[] = [];
  const qkv = new Map<string, Partial<Record<(typeof QKV_ORDER)[number], { shape: number[]; data: Float32Array }>>>();
  for (const [key, t] of hf) {
    const q = key.match(QKV);
    if (q) {
      const target = `pretrained.blocks.${q[1]}.attn.qkv.${q[3]}`;
      const parts = qkv.get(target) ?? {};
      parts[q[2] as (typeof QKV_ORDER)[number]] = t;
      qkv.set(target, parts);
      continue;
    }
    const rule = HF_RENAMES.find(([re]) => re.test(key));
    if (!rule) { unknown.push(key); continue; }
    out.set(rule[1](key.match(rule[0]) as RegExpMatchArray), t);
  }
  if (unknown.length) {
    throw new WeightsError(`${source}: Hugging Face keys with no official equivalent (${unknown.length}): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''}`);
  }
  for (const [target, parts] of qkv) {
    const [q, k, v] = QKV_ORDER.map((p) => parts[p]);
    if (!q || !k || !v) {
      const missing = QKV_ORDER.filter((p) => !parts[p]).join(', ');
      throw new WeightsError(`${source}: ${target} needs query, key and value; missing ${missing}`);
    }
    const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
    if (!same(q.shape, k.shape) || !same(q.shape, v.shape)) {
      throw new WeightsError(`${source}: ${target}: query [${q.shape}], key [${k.shape}], value [${v.shape}] differ in shape`);
    }
    const data = new Float32Array(q.data.length * 3);
    data.set(q.data, 0);
    data.set(k.data, q.data.length);
    data.set(v.data, 2 * q.data.length);
    out.set(target, { shape: [q.shape[0] * 3, ...q.shape.slice(1)], data });
  }
  return out;
}

/** Fields of HF `DepthAnythingConfig` that we read. */
interface HfConfig {
  model_type?: string;
  backbone_config?: {
    hidden_size?: number; num_hidden_layers?: number; num_attention_heads?: number; out_indices?: number[];
    patch_size?: number; image_size?: number; layer_norm_eps?: number; use_swiglu_ffn?: boolean;
  };
  neck_hidden_sizes?: number[];
  fusion_hidden_size?: number;
  depth_estimation_type?: string;
  max_depth?: number;
}

/**
 * HF `config.json` -> our configuration. The version follows from `out_indices`: the last four
 * blocks is V1, anything else V2 (HF stores both with the same model class).
 */
export function configFromHfConfig(json: unknown, source: string): ModelConfig {
  const fail = (what: string): never => { throw new ConfigError(`${source}: ${what}`); };
  if (typeof json !== 'object' || json === null) fail('expected a JSON object');
  const j = json as HfConfig;
  if (j.model_type !== undefined && j.model_type !== 'depth_anything') fail(`model_type is "${j.model_type}", not "depth_anything"`);
  const b = j.backbone_config ?? fail('no backbone_config (is this a Hugging Face Depth Anything config.json?)');
  if (b.use_swiglu_ffn) fail('use_swiglu_ffn is not supported in the Hugging Face layout');
  const width = b.hidden_size ?? fail('backbone_config.hidden_size is missing');
  const depth = b.num_hidden_layers ?? fail('backbone_config.num_hidden_layers is missing');
  const outIdx = b.out_indices ?? fail('backbone_config.out_indices is missing');
  if (!Array.isArray(outIdx) || outIdx.length !== 4) fail(`backbone_config.out_indices must list 4 blocks, got ${JSON.stringify(outIdx)}`);
  const layers = outIdx.map((i) => i - 1);
  const lastFour = layers.every((l, i) => l === depth - 4 + i);
  const encoder = (Object.keys(ENCODERS) as EncoderName[]).find((e) => ENCODERS[e].embedDim === width) ?? encoderByDepth(depth);
  const metric = j.depth_estimation_type === 'metric';
  if (metric && !(typeof j.max_depth === 'number' && j.max_depth > 0)) fail('depth_estimation_type is "metric" but max_depth is missing');
  const cj: ConfigJson = {
    version: lastFour ? 'v1' : 'v2',
    encoder,
    embed_dim: width,
    depth,
    heads: b.num_attention_heads ?? fail('backbone_config.num_attention_heads is missing'),
    ffn: 'mlp',
    layers,
    features: j.fusion_hidden_size ?? HEADS[encoder].features,
    out_channels: j.neck_hidden_sizes ?? [...HEADS[encoder].outChannels],
    use_bn: false,
    use_clstoken: false,
    ...(metric ? { max_depth: j.max_depth } : {}),
    ...(b.patch_size !== undefined ? { patch_size: b.patch_size } : {}),
    ...(b.image_size !== undefined && b.patch_size ? { pos_grid: Math.round(b.image_size / b.patch_size) } : {}),
    ...(b.layer_norm_eps !== undefined ? { norm_eps: b.layer_norm_eps } : {}),
  };
  return configFromJson(cj, source);
}

/** A name for non-standard widths: only used for defaults, every size is given explicitly. */
export function encoderByDepth(depth: number): EncoderName {
  return (Object.keys(ENCODERS) as EncoderName[]).find((e) => ENCODERS[e].depth === depth) ?? 'vits';
}
