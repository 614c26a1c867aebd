/**
 * Maintainer script: the flicker table of the README's video section. Makes the test clips (pan,
 * static), runs each through the model once per normalisation mode, and prints the flicker
 * (mean absolute change of the 8-bit levels between consecutive frames; for the pan, compared
 * along its known motion) and the frames per second.
 *
 *   npx tsx tools/video-flicker.ts --weights W [--config C] [--input-size 518] [--backend wasm] [--threads 1] [--frames 24]
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackendName } from '../src/backend';
import { DepthAnything } from '../src/pipeline/estimator';
import { NORMALIZE_MODES } from '../src/video/normalize';
import { predictVideoFile } from '../src/video/run';
import { makeClip } from '../test/video/clips';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const weights = arg('weights');
  if (!weights) throw new Error('--weights is required');
  const model = await DepthAnything.load(weights, {
    config: arg('config'), backend: (arg('backend') ?? 'wasm') as BackendName, threads: arg('threads') ? Number(arg('threads')) : undefined,
  });
  const inputSize = Number(arg('input-size') ?? 518);
  const frames = arg('frames') ? Number(arg('frames')) : undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-flicker-'));
  try {
    console.log(`model ${model.config.version} ${model.config.encoder} (${weights}), input size ${inputSize}, backend ${model.backend.description}`);
    console.log('| clip | frame | video | aligned | fps (aligned run) |\n|---|---|---|---|---|');
    for (const kind of ['static', 'pan'] as const) {
      const clip = makeClip(kind, dir, { frames });
      const cells: string[] = [];
      let fps = 0;
      for (const mode of NORMALIZE_MODES) {
        const r = await predictVideoFile(model, clip.file, { outdir: dir, stem: `${kind}-${mode}`, inputSize, npy: true, normalize: mode, flickerShift: clip.shift });
        cells.push(r.flicker.toFixed(2));
        if (mode === 'aligned') fps = r.frames / r.seconds;
      }
      console.log(`| ${kind} ${clip.width}x${clip.height}, ${clip.frames} frames | ${cells.join(' | ')} | ${fps.toFixed(2)} |`);
    }
  } finally {
    model.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
