/**
 * The two page modes (web/multiview.ts, web/stream.ts) through their own UI in web/modes.html, in
 * headless Chromium (the shared one), with the tiny fixtures; the models run in the modes' workers
 * on wasm. Run in a child process by modes.test.ts (puppeteer-core is ESM-only); prints one JSON line.
 *   npx tsx test/browser/modes_scenario.ts --dist DIR [--screenshot FILE]
 *
 * Multiview: the da3-tiny-anyview weights and PNGs picked in its file inputs, Reconstruct clicked,
 * the PLY download button's bytes captured (URL.createObjectURL) and compared with the official
 * exporter's points (export.safetensors) and with what the library writes for them.
 * Stream: the vda-tiny weights, the vda-tiny-stream frames drawn one by one on a canvas whose
 * captureStream() feeds the mode's <video>; each depth the page shows is compared with Node's
 * streaming mode (VdaSession.streamFrame on wasm) on the very pixels the page sent.
 */
import { readFileSync, readdirSync } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { openChromium } from '../../src/verify/chromium';
import { serveStatic } from '../../src/node/static_server';
import { initBackend } from '../../src/backends/node';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { stateDictFromSafetensors } from '../../src/weights/safetensors_weights';
import { resolveVdaConfig } from '../../src/weights/vda_detect';
import { vdaConfigFromJson } from '../../src/config/vda';
import { VdaSession } from '../../src/pipeline/vda_session';
import { decodeImage } from '../../src/node/image';
import { compareArrays } from '../../src/verify/compare';
import { encodeDa3ScenePly } from '../../src/pipeline/da3/scene_files';
import type { Da3Scene } from '../../src/pipeline/da3/scene';

const ROOT = path.resolve(__dirname, '..', '..');
const FIX = path.resolve(ROOT, '../shared/fixtures');
const DA3 = path.join(FIX, 'da3/da3-tiny-anyview');
const VDA = path.join(FIX, 'vda');

interface MvState { status: string; message: string; views: number; points: number; frustums: number; confThresh: number | null; workerTensors: { loaded: number; afterRun: number } | null }
interface StState { status: string; message: string; frames: number; fps: number; workerTensors: { loaded: number; afterReset: number | null } | null }

export interface ModesScenarioResult {
  multiview: {
    state: MvState;
    /** The downloaded PLY against the official exporter's glb.points / glb.colors. */
    ply: { headerSameAsLibrary: boolean; vertices: number; officialVertices: number; colorsEqual: boolean; relL2: number; maxAbs: number; bytes: number };
    /** The slider moved to a higher threshold: fewer points. */
    slider: { points: number; confThresh: number | null };
    /** Reconstruct clicked with no weights or photos. */
    nothingChosen: string;
    /** The vda-tiny weights given as DA3 weights. */
    wrongWeights: string;
    screenshot?: string;
  };
  stream: {
    state: StState;
    frames: number;
    /** The page's frames equal the PNG files (the canvas -> captureStream -> <video> path kept the pixels). */
    pixelsEqualPngs: boolean[];
    /** Per frame: the page's depth against Node's streaming mode on the same pixels. */
    vsNode: Array<{ relL2: number; maxAbs: number }>;
    /** Per frame, where the pixels equal the PNGs: against the official `frame.i.depth`. */
    vsOfficial: Array<{ relL2: number } | null>;
  };
  pageErrors: string[];
}

function parsePly(bytes: Buffer): { header: string; vertices: number; positions: Float32Array; colors: Uint8Array } {
  const end = bytes.indexOf('end_header\n') + 'end_header\n'.length;
  const header = bytes.subarray(0, end).toString('latin1');
  const vertices = Number(/element vertex (\d+)/.exec(header)![1]);
  const positions = new Float32Array(vertices * 3);
  const colors = new Uint8Array(vertices * 3);
  for (let i = 0; i < vertices; i++) {
    const o = end + i * 15;
    for (let k = 0; k < 3; k++) positions[i * 3 + k] = bytes.readFloatLE(o + k * 4);
    for (let k = 0; k < 3; k++) colors[i * 3 + k] = bytes[o + 12 + k];
  }
  return { header, vertices, positions, colors };
}

async function main(): Promise<void> {
  const dist = process.argv[process.argv.indexOf('--dist') + 1];
  const shotAt = process.argv.indexOf('--screenshot');
  const screenshot = shotAt > 0 ? process.argv[shotAt + 1] : undefined;
  const streamCfg = JSON.parse(readFileSync(path.join(VDA, 'vda-tiny-stream/config.json'), 'utf8')) as { call: { input_size: number } };
  const inputSize = streamCfg.call.input_size;
  const server = await serveStatic({ '/dist/': dist, '/web/': path.join(ROOT, 'web'), '/fixtures/': FIX });
  const browser = await openChromium();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 900, height: 900 });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    // The download buttons' Blobs, to read back what a click saves.
    await page.evaluateOnNewDocument(`(() => { window.__name = (f) => f; window.__blobs = []; const o = URL.createObjectURL; URL.createObjectURL = (b) => { window.__blobs.push(b); return o.call(URL, b); }; })()`);
    await page.goto(`${server.url}/web/modes.html?inputSize=${inputSize}`);
    await page.waitForFunction(() => document.body.dataset.ready === '1', { timeout: 60_000 });

    // --- several photos -> 3D, through its own inputs ---
    const mv = await page.$('.da3-multiview');
    // Reconstruct before anything is chosen: one sentence, nothing started.
    await (await mv!.$('button[data-role=run]'))!.click();
    await page.waitForFunction(() => (document.querySelector('.da3-multiview') as HTMLElement).dataset.state === 'error');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const nothingChosen = (await page.evaluate(() => (window as any).modes.multiview.state()) as MvState).message;
    // A Video Depth Anything file given as DA3 weights: one sentence from the worker.
    await (await mv!.$('input[data-role=weights]'))!.uploadFile(path.join(VDA, 'vda-tiny/weights.safetensors'));
    await (await mv!.$('input[data-role=photos]'))!.uploadFile(path.join(DA3, 'image0.png'));
    await (await mv!.$('button[data-role=run]'))!.click();
    await page.waitForFunction((first: string) => {
      const m = document.querySelector('.da3-multiview') as HTMLElement;
      return m.dataset.state === 'error' && m.querySelector('[data-role=status]')!.textContent !== first;
    }, { timeout: 60_000 }, nothingChosen);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const wrongWeights = (await page.evaluate(() => (window as any).modes.multiview.state()) as MvState).message;
    await (await mv!.$('input[data-role=weights]'))!.uploadFile(path.join(DA3, 'weights.safetensors'));
    await (await mv!.$('input[data-role=config]'))!.uploadFile(path.join(DA3, 'config.json'));
    await (await mv!.$('input[data-role=photos]'))!.uploadFile(path.join(DA3, 'image0.png'), path.join(DA3, 'image1.png'));
    await mv!.$eval('select', (s) => { (s as HTMLSelectElement).value = 'wasm'; });
    await mv!.$eval('input[type=number]', (i) => { (i as HTMLInputElement).value = '84'; });
    await (await mv!.$('button[data-role=run]'))!.click();
    // Done, or an error other than the one above (the state still says that one until the run starts).
    await page.waitForFunction((first: string) => {
      const m = document.querySelector('.da3-multiview') as HTMLElement;
      return m.dataset.state === 'done' || (m.dataset.state === 'error' && m.querySelector('[data-role=status]')!.textContent !== first);
    }, { timeout: 5 * 60_000 }, wrongWeights);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const mvState = await page.evaluate(() => (window as any).modes.multiview.state()) as MvState;
    if (mvState.status !== 'done') throw new Error(`multiview: ${mvState.message}`);
    if (screenshot) await mv!.screenshot({ path: screenshot as `${string}.png` });
    const blobsBefore = await page.evaluate(() => (window as unknown as { __blobs: Blob[] }).__blobs.length);
    await (await mv!.$('button[data-role=ply]'))!.click();
    const plyB64 = await page.evaluate(async (n: number) => {
      const blobs = (window as unknown as { __blobs: Blob[] }).__blobs;
      if (blobs.length <= n) return '';
      const b = new Uint8Array(await blobs[blobs.length - 1].arrayBuffer());
      let s = '';
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      return btoa(s);
    }, blobsBefore);
    const plyBytes = Buffer.from(plyB64, 'base64');
    const ply = parsePly(plyBytes);
    const exp = parseSafetensors(readFileSync(path.join(DA3, 'export.safetensors')), 'export.safetensors');
    const officialPoints = entryToFloat32(exp.tensors.get('glb.points')!, 'export');
    const ce = exp.tensors.get('glb.colors')!;
    const officialColors = new Uint8Array(ce.bytes.buffer, ce.bytes.byteOffset, ce.bytes.byteLength).slice();
    const lib = Buffer.from(encodeDa3ScenePly({ points: officialPoints, colors: officialColors } as Da3Scene));
    const libHeader = lib.subarray(0, lib.indexOf('end_header\n') + 'end_header\n'.length).toString('latin1');
    const same = ply.vertices === officialPoints.length / 3;
    const cmp = same ? compareArrays(ply.positions, officialPoints) : { relL2: NaN, maxAbs: NaN };
    // Move the slider above the official threshold: a plain threshold, fewer points.
    await mv!.$eval('input[data-role=conf]', (s) => {
      const i = s as HTMLInputElement;
      i.value = String(Number(i.value) * 1.1);
      i.dispatchEvent(new Event('input'));
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const slid = await page.evaluate(() => (window as any).modes.multiview.state()) as MvState;

    // --- live video depth: frames through canvas.captureStream() into the mode's <video> ---
    const st = await page.$('.vda-stream');
    await st!.$eval('select', (s) => { (s as HTMLSelectElement).value = 'wasm'; });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const vdaConfig = JSON.parse(readFileSync(path.join(VDA, 'vda-tiny/config.json'), 'utf8')) as unknown;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await page.evaluate((c: unknown) => (window as any).modes.stream.load('/fixtures/vda/vda-tiny/weights.safetensors', c), vdaConfig as never);
    const names = readdirSync(path.join(VDA, 'vda-tiny-stream/frames')).filter((n) => n.endsWith('.png')).sort();
    const got = await page.evaluate(async (urls: string[]) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const frames = await (window as any).modes.streamCanvas(urls) as Array<{ index: number; rgb: { data: Uint8Array; width: number; height: number }; depth: { data: Float32Array; width: number; height: number } }>;
      return frames.map((f) => ({ index: f.index, rgb: { data: Array.from(f.rgb.data), width: f.rgb.width, height: f.rgb.height }, depth: { data: Array.from(f.depth.data), width: f.depth.width, height: f.depth.height } }));
    }, names.map((n) => `/fixtures/vda/vda-tiny-stream/frames/${n}`));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const stState = await page.evaluate(() => (window as any).modes.stream.state()) as StState;

    // Node's streaming mode on the pixels the page sent, and the official frames where they are the PNGs.
    await initBackend('wasm', { threads: 1 });
    const sd = stateDictFromSafetensors(parseSafetensors(readFileSync(path.join(VDA, 'vda-tiny/weights.safetensors')), 'weights'));
    const cfg = resolveVdaConfig(sd, 'vda-tiny', { config: vdaConfigFromJson(JSON.parse(readFileSync(path.join(VDA, 'vda-tiny/config.json'), 'utf8')), 'config.json') });
    const session = new VdaSession(sd, cfg, 'vda-tiny');
    const official = parseSafetensors(readFileSync(path.join(VDA, 'vda-tiny-stream/stream.safetensors')), 'stream');
    const vsNode: Array<{ relL2: number; maxAbs: number }> = [];
    const vsOfficial: Array<{ relL2: number } | null> = [];
    const pixelsEqualPngs: boolean[] = [];
    try {
      for (let i = 0; i < got.length; i++) {
        const g = got[i];
        const rgb = { data: Uint8Array.from(g.rgb.data), width: g.rgb.width, height: g.rgb.height };
        const png = await decodeImage(path.join(VDA, 'vda-tiny-stream/frames', names[i]));
        const equal = png.width === rgb.width && png.height === rgb.height && png.data.every((v, k) => v === rgb.data[k]);
        pixelsEqualPngs.push(equal);
        const d = await session.streamFrame(rgb, { inputSize });
        vsNode.push(compareArrays(Float32Array.from(g.depth.data), d.data));
        const ref = official.tensors.get(`frame.${i}.depth`);
        vsOfficial.push(equal && ref ? { relL2: compareArrays(Float32Array.from(g.depth.data), entryToFloat32(ref, 'stream')).relL2 } : null);
      }
    } finally {
      session.dispose();
    }
    const numTensors = tf.memory().numTensors;
    if (numTensors !== 0) throw new Error(`Node's streaming check left ${numTensors} tensors`);

    const r: ModesScenarioResult = {
      multiview: {
        state: mvState,
        ply: { headerSameAsLibrary: ply.header === libHeader.replace(/element vertex \d+/, `element vertex ${ply.vertices}`), vertices: ply.vertices, officialVertices: officialPoints.length / 3, colorsEqual: same && ply.colors.every((v, k) => v === officialColors[k]), relL2: cmp.relL2, maxAbs: cmp.maxAbs, bytes: plyBytes.length },
        slider: { points: slid.points, confThresh: slid.confThresh },
        nothingChosen,
        wrongWeights,
        ...(screenshot ? { screenshot } : {}),
      },
      stream: { state: stState, frames: got.length, pixelsEqualPngs, vsNode, vsOfficial },
      pageErrors,
    };
    process.stdout.write(JSON.stringify(r) + '\n');
  } finally {
    await browser.close();
    await server.close();
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
