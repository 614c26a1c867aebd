/**
 * Maintainer script: writes a torch.save-style .pth of an official configuration with seeded
 * random weights (the shapes and key names of the release), to measure loading and converting
 * at full size without downloading anything. ViT-L is 1.34 GB; delete it afterwards.
 *
 *   npx tsx tools/random-pth.ts v2-vitl /tmp/depth_anything_v2_vitl.pth
 *   npx tsx tools/random-pth.ts vda-small /tmp/video_depth_anything_vits.pth
 *   time npx tsx src/cli/run.ts convert /tmp/depth_anything_v2_vitl.pth /tmp/vitl.safetensors
 *
 * Built in memory (about 3x the file size at peak), with the test helpers' zip and pickle writers.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { VARIANTS, VariantName } from '../src/config/depth';
import { VDA_VARIANTS, VdaVariantName } from '../src/config/vda';
import { randomStateDict, randomVdaStateDict } from '../src/verify/bench';
import { TensorSpec, stateDictPickle, torchZip } from '../test/io/torch_writer';

async function main(): Promise<void> {
  const [variant, out] = process.argv.slice(2);
  const names = [...Object.keys(VARIANTS), ...Object.keys(VDA_VARIANTS)];
  if (!names.includes(variant) || !out) throw new Error(`usage: tools/random-pth.ts VARIANT OUT.pth (VARIANT: ${names.join(', ')})`);
  const sd = variant in VDA_VARIANTS ? randomVdaStateDict(VDA_VARIANTS[variant as VdaVariantName].config, 7) : randomStateDict(VARIANTS[variant as VariantName], 7);
  const specs: TensorSpec[] = [];
  const storages: Record<string, Uint8Array> = {};
  for (const [name, t] of sd) {
    const key = String(specs.length);
    specs.push({ name, storage: 'FloatStorage', key, numel: t.data.length, shape: t.shape, parameter: true });
    storages[key] = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  const bytes = torchZip(path.basename(out, path.extname(out)), stateDictPickle(specs), storages);
  await fs.writeFile(out, bytes);
  console.log(`${out}: ${specs.length} tensors, ${bytes.length} bytes`);
}

main().catch((e: Error) => { console.error(e.message); process.exitCode = 1; });
