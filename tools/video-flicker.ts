/**
 * Maintainer script: the flicker table of the README's video section. Makes the test clips (pan,
 * static), runs each through the model once, applies the three normalisation modes, and prints the flicker
 * (mean absolute change of the 8-bit levels between consecutive frames; for the pan, compared
 * along its known motion) and the frames per second. A Video Depth Anything file runs the offline
 * pipeline, or the streaming mode with --streaming.
 *
 *   npx tsx tools/video-flicker.ts --weights W [--config C] [--input-size 518] [--backend wasm] [--threads 1] [--frames 24] [--streaming] [--clips static,pan]
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackendName } from '../src/backends/node';
import { DepthAnything } from '../src/node/depth_anything';
import { VideoDepthAnything, isVdaWeightsFile } from '../src/node/video_depth_anything';
import { AlignedNormalizer, frameNormalizer, rangeOf, toLevels8, videoNormalizer } from '../src/node/video/normalize';
import { FlickerMeter } from '../src/node/video/flicker';
import { makeClip } from '../test/video/clips';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const weights = arg('weights');
  if (!weights) throw new Error('--weights is required');
  const load = { config: arg('config'), backend: (arg('backend') ?? 'wasm') as BackendName, threads: arg('threads') ? Number(arg('threads')) : undefined };
  const vda = await isVdaWeightsFile(weights);
  const model = vda ? await VideoDepthAnything.load(weights, load) : await DepthAnything.load(weights, load);
  const streaming = process.argv.includes('--streaming');
  const clips = (arg('clips') ?? 'static,pan').split(',') as Array<'static' | 'pan'>;
  const inputSize = Number(arg('input-size') ?? 518);
  const frames = arg('frames') ? Number(arg('frames')) : undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-flicker-'));
  try {
    const what = model instanceof VideoDepthAnything ? `Video Depth Anything ${model.config.model.encoder}, ${streaming ? 'streaming' : 'offline pipeline'}` : `${model.config.version} ${model.config.encoder}`;
    console.log(`model ${what} (${weights}), input size ${inputSize}, backend ${model.backend.description}`);
    console.log('| clip | frame | video | aligned | fps (model pass) |\n|---|---|---|---|---|');
    for (const kind of clips) {
      const clip = makeClip(kind, dir, { frames });
      // One model pass; the modes are applied to the same depth maps (what predictVideoFile does
      // frame by frame; the `video` range is taken from the same sample of frames).
      const t0 = Date.now();
      const depths: Float32Array[] = [];
      for await (const f of model.predictVideo(clip.file, { inputSize, streaming })) depths.push(f.depth.data);
      const fps = depths.length / ((Date.now() - t0) / 1000);
      const stride = Math.max(1, Math.floor(depths.length / 16));
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < depths.length && i / stride < 16; i += stride) { const r = rangeOf(depths[i]); lo = Math.min(lo, r.min); hi = Math.max(hi, r.max); }
      const cells = [frameNormalizer(), videoNormalizer(lo, hi), new AlignedNormalizer(clip.width, clip.height)].map((n) => {
        const meter = new FlickerMeter(clip.width, clip.height, { shift: clip.shift });
        for (const d of depths) meter.add(toLevels8(n.apply(d)));
        return meter.value.toFixed(2);
      });
      console.log(`| ${kind} ${clip.width}x${clip.height}, ${clip.frames} frames | ${cells.join(' | ')} | ${fps.toFixed(3)} |`);
    }
  } finally {
    model.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
