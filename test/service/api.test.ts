/**
 * The HTTP API in-process (a real listening server on 127.0.0.1, the tiny fixture model on wasm): the same bytes as
 * `predict`, every error status, batching, metrics, OpenAPI, and no tensor left behind.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { DepthAnything } from '../../src/node/depth_anything';
import { decodeImage } from '../../src/node/image';
import { Service, buildServer } from '../../src/service/http';
import { InferQueue } from '../../src/service/infer_queue';
import { compareArrays, PARITY_TOLERANCE } from '../../src/verify/compare';
import { runCli } from '../cli/run_cli';
import { TINY, png } from './helpers';
import { Segmenter } from '../../src/node/segmenter';
import { slideCase } from '../semseg/parity_suite';

const SIZE = '70';
const TOKEN = 'a-token-of-enough-length';
const multipart = (bytes: Buffer, field = 'image') => {
  const b = '----da-test-boundary';
  const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="${field}"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n`), bytes, Buffer.from(`\r\n--${b}--\r\n`)]);
  return { body, type: `multipart/form-data; boundary=${b}` };
};

let dir: string;
let model: DepthAnything;
let svc: Service;
const defaults = { maxQueue: 8, maxBatch: 4, maxBody: 256 * 1024, maxPixels: 1_000_000, timeoutMs: 60_000 };

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-api-'));
  model = await DepthAnything.load(TINY, { backend: 'wasm' });
  svc = await buildServer({ served: { task: 'depth', model }, ...defaults });
});
afterAll(async () => {
  await svc.app.close();
  model.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

interface Answer { statusCode: number; headers: Record<string, string>; rawPayload: Buffer; body: string; json(): unknown }

/** A request to a listening server over real HTTP (fastify's inject needs an ESM-only package jest cannot load). */
async function call(s: Service, opts: { method?: string; url: string; payload?: Buffer | string; headers?: Record<string, string> }): Promise<Answer> {
  if (!s.app.server.listening) await s.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = s.app.server.address() as import('net').AddressInfo;
  const r = await fetch(`http://127.0.0.1:${port}${opts.url}`, { method: opts.method ?? 'GET', body: typeof opts.payload === 'string' ? opts.payload : opts.payload && new Uint8Array(opts.payload), headers: opts.headers });
  const raw = Buffer.from(await r.arrayBuffer());
  return { statusCode: r.status, headers: Object.fromEntries(r.headers.entries()), rawPayload: raw, body: raw.toString(), json: () => JSON.parse(raw.toString()) };
}

const post = (url: string, payload: Buffer | string, type = 'image/png', headers: Record<string, string> = {}) =>
  call(svc, { method: 'POST', url, payload, headers: { 'content-type': type, ...headers } });

describe('POST /v1/depth answers what predict writes', () => {
  test('npy, png16 and color byte-equal to predict --format npy,png16,color --pred-only; json and multipart the same depth; no tensor left', async () => {
    const image = await png(45, 31, 2);
    await fs.writeFile(path.join(dir, 'photo.png'), image);
    const cliRun = await runCli('predict', path.join(dir, 'photo.png'), '--weights', TINY, '--backend', 'wasm', '--input-size', SIZE, '--format', 'npy,png16,color', '--pred-only', '--outdir', path.join(dir, 'out'));
    expect(cliRun.code).toBe(0);
    const before = tf.memory().numTensors;

    const npy = await post(`/v1/depth?input_size=${SIZE}`, image);
    expect(npy.statusCode).toBe(200);
    expect(npy.headers['content-type']).toBe('application/x-npy');
    expect([npy.headers['x-depth-width'], npy.headers['x-depth-height'], npy.headers['x-depth-metric']]).toEqual(['45', '31', 'false']);
    expect(npy.headers['server-timing']).toMatch(/^decode;dur=[\d.]+, queue;dur=[\d.]+, model;dur=[\d.]+$/);
    expect(npy.rawPayload.equals(await fs.readFile(path.join(dir, 'out/photo_depth.npy')))).toBe(true);

    const p16 = await post(`/v1/depth?input_size=${SIZE}&format=png16`, image);
    expect(p16.headers['content-type']).toBe('image/png');
    expect(p16.rawPayload.equals(await fs.readFile(path.join(dir, 'out/photo_depth16.png')))).toBe(true);
    const col = await post(`/v1/depth?input_size=${SIZE}&format=color`, image);
    expect(col.rawPayload.equals(await fs.readFile(path.join(dir, 'out/photo_depth.png')))).toBe(true);

    const json = await post(`/v1/depth?input_size=${SIZE}&format=json`, image);
    const j = json.json() as { width: number; height: number; metric: boolean; min: number; max: number; depth: string };
    const floats = new Float32Array(Uint8Array.from(Buffer.from(j.depth, 'base64')).buffer);
    const ref = new Float32Array(npy.rawPayload.buffer.slice(npy.rawPayload.byteOffset + 128, npy.rawPayload.byteOffset + npy.rawPayload.length));
    expect([j.width, j.height, j.metric]).toEqual([45, 31, false]);
    expect(Array.from(floats)).toEqual(Array.from(ref));
    expect([j.min, j.max]).toEqual([Math.min(...ref), Math.max(...ref)]);

    const mp = multipart(image);
    const viaForm = await post(`/v1/depth?input_size=${SIZE}`, mp.body, mp.type);
    expect(viaForm.statusCode).toBe(200);
    expect(viaForm.rawPayload.equals(npy.rawPayload)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('errors: JSON { error: { code, message } } with the right status', () => {
  test('400 empty, undecodable, bad parameters, multipart without "image"; 409 other task; 415 not an image type', async () => {
    const image = await png(20, 20);
    const cases: Array<[Promise<Answer>, number, string]> = [
      [post('/v1/depth', Buffer.alloc(0)), 400, 'empty_body'],
      [post('/v1/depth', Buffer.from('definitely not a picture')), 400, 'bad_image'],
      [post('/v1/depth', image.subarray(0, 60)), 400, 'bad_image'], // a truncated PNG: header readable, pixels not
      [post('/v1/depth?format=tiff', image), 400, 'bad_parameter'],
      [post('/v1/depth?input_size=15', image), 400, 'bad_parameter'],
      [post('/v1/depth?input_size=abc', image), 400, 'bad_parameter'],
      [post('/v1/depth?path=/etc/passwd', image), 400, 'bad_parameter'],
      [post('/v1/depth', multipart(image, 'file').body, multipart(image, 'file').type), 400, 'missing_image'],
      [post('/v1/segment', image), 409, 'wrong_task'],
      [post('/v1/depth', 'hello', 'text/plain'), 415, 'unsupported_media_type'],
      [post('/v1/depth', '{"image": "x"}', 'application/json'), 415, 'unsupported_media_type'],
    ];
    for (const [p, status, code] of cases) {
      const r = await p;
      if (r.statusCode === 200) throw new Error(`a 200 where ${status} ${code} was expected`);
      expect({ status: r.statusCode, code: (r.json() as { error: { code: string } }).error?.code }).toEqual({ status, code });
    }
  });

  test('413: a body over --max-body (raw and multipart) and an image whose header declares more than --max-pixels, refused before decoding', async () => {
    const big = Buffer.alloc(300 * 1024, 7);
    expect((await post('/v1/depth', big)).statusCode).toBe(413);
    const mp = multipart(big);
    const r = await post('/v1/depth', mp.body, mp.type);
    expect([r.statusCode, (r.json() as { error: { code: string } }).error.code]).toEqual([413, 'body_too_large']);
    // 2000 x 1000 of one colour: a few kB of PNG, 2 million pixels.
    const wide = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
    expect(wide.length).toBeLessThan(defaults.maxBody);
    const px = await post('/v1/depth', wide);
    expect(px.statusCode).toBe(413);
    expect((px.json() as { error: { code: string; message: string } }).error).toEqual({ code: 'too_many_pixels', message: expect.stringContaining('2000x1000 = 2000000 pixels') });
    // The header and a little more (120 bytes): decoding would fail (400); the declared size alone refuses it.
    const headerOnly = await post('/v1/depth', wide.subarray(0, 120));
    expect([headerOnly.statusCode, (headerOnly.json() as { error: { code: string } }).error.code]).toEqual([413, 'too_many_pixels']);
    const smallHeaderOnly = await post('/v1/depth', (await png(20, 20)).subarray(0, 120));
    expect([smallHeaderOnly.statusCode, (smallHeaderOnly.json() as { error: { code: string } }).error.code]).toEqual([400, 'bad_image']);
  });

  test('401 without or with a wrong bearer token; /healthz and /readyz stay open', async () => {
    const m = await DepthAnything.load(TINY, { backend: 'wasm' });
    const s = await buildServer({ served: { task: 'depth', model: m }, ...defaults, token: TOKEN });
    try {
      const image = await png(14, 14);
      const send = (auth?: string) => call(s, { method: 'POST', url: '/v1/depth?input_size=14', payload: image, headers: { 'content-type': 'image/png', ...(auth ? { authorization: auth } : {}) } });
      for (const auth of [undefined, 'Bearer wrong', `Basic ${TOKEN}`]) {
        const r = await send(auth);
        expect([r.statusCode, r.headers['www-authenticate'], (r.json() as { error: { code: string } }).error.code]).toEqual([401, 'Bearer', 'unauthorized']);
      }
      expect((await send(`Bearer ${TOKEN}`)).statusCode).toBe(200);
      expect((await call(s, { url: '/metrics' })).statusCode).toBe(401);
      expect((await call(s, { url: '/healthz' })).statusCode).toBe(200);
      expect((await call(s, { url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await s.close();
    }
  });

  test('503 with Retry-After past --max-queue (readyz 503 while full), 504 past --timeout; ready again afterwards; no tensor left', async () => {
    const base = tf.memory().numTensors;
    const m = await DepthAnything.load(TINY, { backend: 'wasm' });
    const s = await buildServer({ served: { task: 'depth', model: m }, ...defaults, maxQueue: 2, maxBatch: 1 });
    try {
      const image = await png(40, 30);
      // Hold the model on a gate: one request runs, two wait (the queue is full), the rest are refused.
      let open!: () => void;
      const gate = new Promise<void>((r) => { open = r; });
      const real = m.predictRgbBatch.bind(m);
      let entered = false;
      m.predictRgbBatch = async (...a) => { entered = true; await gate; return real(...a); };
      const send = () => call(s, { method: 'POST', url: '/v1/depth?input_size=56', payload: image, headers: { 'content-type': 'image/png' } });
      const until = async (cond: () => boolean) => { for (let t = 0; !cond(); t++) { if (t > 2000) throw new Error('timed out waiting'); await new Promise((r) => setTimeout(r, 5)); } };
      const held = [send()];
      await until(() => entered);
      held.push(send(), send());
      await until(() => s.queue.full);
      expect((await call(s, { url: '/readyz' })).statusCode).toBe(503);
      const refused = await Promise.all([send(), send(), send()]);
      open();
      const all = [...(await Promise.all(held)), ...refused];
      const statuses = all.map((r) => r.statusCode);
      expect(statuses).toEqual([200, 200, 200, 503, 503, 503]);
      for (const r of all.filter((x) => x.statusCode === 503)) {
        expect(r.headers['retry-after']).toBe('1');
        expect((r.json() as { error: { code: string } }).error.code).toBe('queue_full');
      }
      expect((await call(s, { url: '/readyz' })).json()).toMatchObject({ ready: true, queue: 0 });
    } finally {
      await s.close();
    }
    expect(tf.memory().numTensors).toBe(base); // the requests left nothing, and close() freed the weights
    const m2 = await DepthAnything.load(TINY, { backend: 'wasm' });
    const t = await buildServer({ served: { task: 'depth', model: m2 }, ...defaults, timeoutMs: 1 });
    try {
      const r = await call(t, { method: 'POST', url: '/v1/depth?input_size=56', payload: await png(40, 30), headers: { 'content-type': 'image/png' } });
      expect([r.statusCode, (r.json() as { error: { code: string } }).error.code]).toEqual([504, 'timeout']);
    } finally {
      await t.close();
    }
  });
});

describe('batching', () => {
  test.each([['wasm', 56], ['cpu', 28]] as const)('%s: one forward of batch 3 equals three single predictions within the parity tolerance, no tensor left', async (backend, inputSize) => {
    const m = await DepthAnything.load(TINY, { backend });
    try {
      const imgs = await Promise.all((await Promise.all([png(40, 30, 1), png(40, 30, 5), png(40, 31, 9)])).map((b) => decodeImage(b)));
      const before = tf.memory().numTensors;
      const batched = await m.predictRgbBatch(imgs, { inputSize });
      expect(tf.memory().numTensors).toBe(before);
      for (const [k, img] of imgs.entries()) {
        const single = await m.predictRgb(img, { inputSize });
        const c = compareArrays(batched[k].data, single.data);
        expect(c.relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
        expect(c.maxAbs).toBeLessThanOrEqual(PARITY_TOLERANCE.maxAbsFactor * Math.max(1, c.refMax));
        expect([batched[k].width, batched[k].height]).toEqual([img.width, img.height]);
      }
      await expect(m.predictRgbBatch([imgs[0], await decodeImage(await png(30, 60))], { inputSize: 56 })).rejects.toThrow(/network inputs differ/);
    } finally {
      m.dispose();
    }
  });

  test('the queue groups requests waiting at one input size (up to max batch), keeps order, and one bad input fails alone', async () => {
    const runs: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const q = new InferQueue<string, string>(async (inputs) => {
      runs.push(inputs);
      if (runs.length === 1) await gate;
      if (inputs.includes('bad')) throw new Error('bad input');
      return inputs.map((i) => i.toUpperCase());
    }, { maxQueue: 10, maxBatch: 3 });
    const go = (key: string, v: string) => q.admit().run(key, v, Date.now() + 10_000).then((r) => `${r.result}/${r.stats.batch}`, (e: Error) => e.message);
    const first = go('a', 'x');
    const rest = [go('a', 'a1'), go('b', 'b1'), go('a', 'a2'), go('a', 'bad'), go('a', 'a3'), go('b', 'b2')];
    await new Promise((r) => setImmediate(r));
    expect(q.depth).toBe(6);
    expect(q.full).toBe(false);
    const more = Array.from({ length: 4 }, (_, k) => go('c', `c${k}`));
    expect(q.full).toBe(true);
    expect(() => q.admit()).toThrow(/queue is full/);
    release();
    expect(await first).toBe('X/1');
    expect(await Promise.all(rest)).toEqual(['A1/1', 'B1/2', 'A2/1', 'bad input', 'A3/1', 'B2/2']);
    expect(await Promise.all(more)).toEqual(['C0/3', 'C1/3', 'C2/3', 'C3/1']);
    // Batches: [x], then the oldest key first, at most 3: [a1 a2 bad] (fails, each rerun alone), [b1 b2], [a3], [c0 c1 c2], [c3].
    expect(runs).toEqual([['x'], ['a1', 'a2', 'bad'], ['a1'], ['a2'], ['bad'], ['b1', 'b2'], ['a3'], ['c0', 'c1', 'c2'], ['c3']]);
    expect(q.depth).toBe(0);
  });
});

describe('metrics and description', () => {
  test('/metrics: requests by route and status, latency, queue depth, batch sizes, model seconds, live tensors, RSS; /openapi.json describes the API', async () => {
    const text = (await call(svc, { url: '/metrics' })).body;
    expect(text).toMatch(/depth_anything_http_requests_total\{route="\/v1\/depth",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/depth_anything_http_requests_total\{route="\/v1\/depth",method="POST",status="415"\} 2/);
    for (const name of ['depth_anything_http_request_duration_seconds_bucket', 'depth_anything_queue_depth 0', 'depth_anything_batch_size_count', 'depth_anything_model_seconds_sum', 'depth_anything_tfjs_tensors', 'process_resident_memory_bytes']) {
      expect(text).toContain(name);
    }
    expect(text).toContain(`depth_anything_tfjs_tensors ${tf.memory().numTensors}`);
    const doc = (await call(svc, { url: '/openapi.json' })).json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> }; parameters?: Array<{ name: string }> }>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/metrics', '/readyz', '/v1/depth', '/v1/segment']);
    expect(Object.keys(doc.paths['/v1/depth'].post.requestBody!.content)).toEqual(expect.arrayContaining(['image/jpeg', 'image/png', 'multipart/form-data']));
    expect(doc.paths['/v1/depth'].post.parameters!.map((p) => p.name).sort()).toEqual(['format', 'input_size']);
  });
});

// Opt-in (SERVICE_SEG=1, docs/testing.md): the slide case takes about 40 s on 2 cores.
if (process.env.SERVICE_SEG) describe('POST /v1/segment', () => {
  test('a segmentation server answers segment\'s labels PNG byte for byte; depth asked of it is a 409', async () => {
    const { weights, config, image } = slideCase();
    const outdir = path.join(dir, 'seg');
    const cliRun = await runCli('segment', image, '--weights', weights, '--config', config, '--outdir', outdir, '--format', 'labels', '--backend', 'wasm');
    expect(cliRun.code).toBe(0);
    const seg = await Segmenter.load(weights, { backend: 'wasm', config });
    const s = await buildServer({ served: { task: 'segment', model: seg }, ...defaults, maxBody: 4 * 1024 * 1024 });
    try {
      const bytes = await fs.readFile(image);
      const type = image.endsWith('.png') ? 'image/png' : 'image/jpeg';
      const r = await call(s, { method: 'POST', url: '/v1/segment?format=labels', payload: bytes, headers: { 'content-type': type } });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('image/png');
      expect(r.rawPayload.equals(await fs.readFile(path.join(outdir, `${path.basename(image, path.extname(image))}_labels.png`)))).toBe(true);
      const d = await call(s, { method: 'POST', url: '/v1/depth', payload: bytes, headers: { 'content-type': type } });
      expect([d.statusCode, (d.json() as { error: { code: string } }).error.code]).toEqual([409, 'wrong_task']);
    } finally {
      await s.close();
    }
  });
});
