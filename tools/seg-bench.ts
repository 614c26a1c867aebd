/**
 * Segmentation speed and peak memory at the released size: the official ViT-L Mask2Former
 * (SEG_VARIANTS, 150 classes, 200 queries) on random weights, one `encode_decode` of a
 * CROP x CROP input (one slide crop; an ADE20K image at 896 short side takes 2-3 crops).
 *
 *   npx tsx tools/seg-bench.ts [--backend wasm] [--threads N] [--crop 896] [--variant seg-ade20k]
 *
 * Prints load time, the pass time, and the process's peak RSS (the wasm heap is part of it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, BackendName } from '../src/backends/node';
import { SEG_VARIANTS, SegVariantName } from '../src/config/semseg';
import { encodeDecode, bindSegWeights } from '../src/semseg/encoder_decoder';
import { RawTensor, StateDict, StateDictReader } from '../src/weights/state_dict';
import { loadSegBackbone } from '../src/semseg/dinov2';
import { loadFeature2Pyramid } from '../src/semseg/neck/feature2pyramid';
import { loadMask2FormerHead } from '../src/semseg/mask2former_head';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };

/** Every key the model reads, with its shape: the loaders run against a reader that records. */
function randomStateDict(cfg: (typeof SEG_VARIANTS)[SegVariantName]): StateDict {
  const shapes = new Map<string, number[]>();
  const recorder = new StateDictReader(new Map(), 'shapes');
  const take = recorder.take.bind(recorder);
  recorder.take = (key: string, shape: readonly number[]): RawTensor => { shapes.set(key, [...shape]); return take(key, shape); };
  recorder.takeOptional = (key: string, shape: readonly number[]) => recorder.take(key, shape);
  tf.tidy(() => { loadSegBackbone(recorder, cfg.backbone); loadFeature2Pyramid(recorder, 'neck', cfg.neck.embedDim); loadMask2FormerHead(recorder, cfg); });
  let seed = 1;
  const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296 - 0.5; };
  const sd: StateDict = new Map();
  for (const [key, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fan = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const data = new Float32Array(n);
    const isVar = key.endsWith('running_var');
    for (let i = 0; i < n; i++) data[i] = isVar ? 1 + Math.abs(rnd()) : (shape.length > 1 ? rnd() * 2 / Math.sqrt(fan) : 1 + 0.1 * rnd());
    sd.set(key, { shape, data });
  }
  return sd;
}

(async () => {
  const backend = arg('backend', 'wasm') as BackendName;
  const threads = Number(arg('threads', '1'));
  const crop = Number(arg('crop', '896'));
  const variant = arg('variant', 'seg-ade20k') as SegVariantName;
  const info = await initBackend(backend, { threads });
  const cfg = SEG_VARIANTS[variant];
  const t0 = Date.now();
  const sd = randomStateDict(cfg);
  const params = [...sd.values()].reduce((a, t) => a + t.data.length, 0);
  const w = bindSegWeights(sd, cfg, 'random');
  sd.clear();
  const tLoad = (Date.now() - t0) / 1000;
  console.log(`${variant}: ${(params / 1e6).toFixed(1)} M parameters, random weights bound in ${tLoad.toFixed(1)} s; backend ${info.description}`);
  const x = tf.randomNormal([1, crop, crop, 3]) as tf.Tensor4D;
  const t1 = Date.now();
  const out = tf.tidy(() => encodeDecode(x, w, cfg, [crop, crop]));
  await out.data();
  const tPass = (Date.now() - t1) / 1000;
  tf.dispose([out, x]);
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(`encode_decode ${crop}x${crop}: ${tPass.toFixed(1)} s; peak RSS ${rss.toFixed(0)} MiB`);
})().catch((e) => { console.error(e); process.exitCode = 1; });
