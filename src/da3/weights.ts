/**
 * The released `model.safetensors` of Depth Anything 3 (PyTorchModelHubMixin.save_pretrained ->
 * safetensors.torch.save_model): keys `model.*`; tensors that share storage are stored once and
 * the header's `__metadata__` maps each dropped name to the kept one (DualDPT's one aux
 * LayerNorm, `output_conv2_aux.{1,2,3}.2` -> `output_conv2_aux.0.2`), which the loader ties back.
 * Pure (bytes in): used by Node and the page.
 */
import { DA3_VARIANTS, Da3Config, Da3VariantName } from '../config/da3';
import { ParsedSafetensors } from '../io/safetensors';
import { isDa3StateDict } from '../weights/detect';
import { stateDictFromSafetensors } from '../weights/safetensors_weights';
import { StateDict, WeightsError } from '../weights/state_dict';

/** The file's tensors, with every name the metadata maps to a stored tensor tied to it (same data, not a copy). */
export function da3StateDictFromSafetensors(parsed: ParsedSafetensors): StateDict {
  const sd = stateDictFromSafetensors(parsed);
  for (const [name, kept] of Object.entries(parsed.metadata)) {
    if (name.startsWith('model.') && !sd.has(name) && sd.has(kept)) sd.set(name, sd.get(kept)!);
  }
  return sd;
}

/** Whether a parsed safetensors file is a Depth Anything 3 checkpoint (by its keys). */
export const isDa3Safetensors = (parsed: ParsedSafetensors): boolean => parsed.tensors.has('model.backbone.pretrained.pos_embed');

/**
 * The released variant whose sizes the tensors show (embed dim, blocks, camera modules, head
 * widths). Mono and metric share one layout: `hint` (a file or repository name) tells them apart,
 * else the mono configuration is returned (the same network).
 */
export function da3VariantFromStateDict(sd: StateDict, source: string, hint = ''): { name: Da3VariantName; config: Da3Config } {
  if (!isDa3StateDict(sd)) throw new WeightsError(`${source}: not a Depth Anything 3 checkpoint: model.backbone.pretrained.pos_embed is missing`);
  const C = sd.get('model.backbone.pretrained.pos_embed')!.shape[2];
  let depth = 0;
  for (const k of sd.keys()) {
    const m = /^model\.backbone\.pretrained\.blocks\.(\d+)\./.exec(k);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  const features = sd.get('model.head.scratch.layer1_rn.weight')?.shape[0];
  const cams = sd.has('model.cam_dec.fc_t.weight');
  const names = (Object.keys(DA3_VARIANTS) as Da3VariantName[]).filter((n) => {
    const c = DA3_VARIANTS[n].config;
    return c.net.embedDim === C && c.net.depth === depth && c.head.features === features && Boolean((c as Da3Config).camDec) === cams;
  });
  if (!names.length) throw new WeightsError(`${source}: a Depth Anything 3 checkpoint of no released size (embed_dim ${C}, ${depth} blocks, head features ${features}${cams ? ', with camera modules' : ''}); pass its config.json`);
  const metric = /metric/i.test(hint);
  const name = names.find((n) => metric === n.includes('metric')) ?? names[0];
  return { name, config: DA3_VARIANTS[name].config };
}
