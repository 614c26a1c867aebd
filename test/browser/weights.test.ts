/**
 * The browser weights path, run in Node (same fetch/Response/stream APIs; no Cache Storage here):
 * bytes to a model configuration, download progress, and the one-line errors for a 404, a
 * truncated download and a file that is not a model.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { fetchWeights, weightsFromBytes } from '../../src/browser/weights';
import { DepthAnything } from '../../src/browser/depth_anything';
import { parseSafetensors, serializeSafetensors, entryToFloat32 } from '../../src/io/safetensors';
import { readTorchCheckpoint } from '../../src/weights/torch_zip';
import { caseDir, expectArrayParity } from '../helpers';
import { configFromJson } from '../../src/config/depth';
import { decodeImage } from '../../src/node/image';

const WEIGHTS = `${caseDir('v2-tiny')}/weights.safetensors`;

describe('browser weights', () => {
  let server: http.Server;
  let base: string;
  const bytes = fs.readFileSync(WEIGHTS);
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/w.safetensors') { res.writeHead(200, { 'content-length': bytes.length }); res.end(bytes); return; }
      if (req.url === '/truncated') {
        // Promises more than it sends, then hangs up.
        res.writeHead(200, { 'content-length': bytes.length });
        res.write(bytes.subarray(0, 1000), () => res.destroy());
        return;
      }
      res.writeHead(404); res.end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads with progress and reads the configuration our safetensors record', async () => {
    const seen: number[] = [];
    const got = await fetchWeights(`${base}/w.safetensors`, { onProgress: (p) => { seen.push(p.loaded); expect(p.total).toBe(bytes.length); } });
    expect(Buffer.from(got).equals(bytes)).toBe(true);
    expect(seen[seen.length - 1]).toBe(bytes.length);
    const w = await weightsFromBytes(got, 'w.safetensors');
    expect(w.format).toBe('safetensors');
    expect(w.config?.version).toBe('v2');
  });

  it('says which URL failed and how', async () => {
    await expect(fetchWeights(`${base}/missing.safetensors`)).rejects.toThrow(/missing\.safetensors: download failed: HTTP 404/);
    await expect(fetchWeights(`${base}/truncated`)).rejects.toThrow(/truncated|broke off/);
    await expect(fetchWeights('http://127.0.0.1:1/x.safetensors')).rejects.toThrow(/cannot download \(network error, or .*CORS\)/);
  });

  it.each(['v2-tiny', 'v1-tiny'])('reads the official .pth of %s from bytes as Node reads it from the file', async (c) => {
    const file = `${caseDir(c)}/weights.pth`;
    const fromBytes = await weightsFromBytes(new Uint8Array(fs.readFileSync(file)), 'weights.pth', { version: c.startsWith('v1') ? 'v1' : 'v2' });
    const fromFile = await readTorchCheckpoint(file);
    expect(fromBytes.format).toBe('pth');
    expect([...fromBytes.stateDict.keys()]).toEqual([...fromFile.stateDict.keys()]);
    for (const [k, t] of fromFile.stateDict) {
      expect(fromBytes.stateDict.get(k)!.shape).toEqual(t.shape);
      expect(Buffer.from(fromBytes.stateDict.get(k)!.data.buffer, fromBytes.stateDict.get(k)!.data.byteOffset, t.data.byteLength)
        .equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
    // A truncated download: one line naming the file.
    const cut = new Uint8Array(fs.readFileSync(file)).subarray(0, 5000);
    await expect(weightsFromBytes(cut, 'weights.pth')).rejects.toThrow(/^weights\.pth: not a readable zip archive \(no end-of-central-directory record; truncated or not a \.pth file\?\)$/);
  });

  it('refuses a file that is not a model in one line', async () => {
    const jpeg = fs.readFileSync(`${caseDir('v2-vits-full')}/demo01.jpg`);
    await expect(weightsFromBytes(jpeg, 'demo01.jpg')).rejects.toThrow(/^demo01\.jpg: not a model file: neither a safetensors file nor a PyTorch \.pth checkpoint$/);
  });

  it('loads float16 safetensors (convert --dtype f16) to the same model within f16 rounding', async () => {
    const parsed = parseSafetensors(bytes, WEIGHTS);
    const tensors = [...parsed.tensors].filter(([, e]) => e.dtype === 'F32').map(([name, e]) => ({ name, shape: e.shape, data: entryToFloat32(e), dtype: 'F16' as const }));
    const f16 = serializeSafetensors(tensors, parsed.metadata);
    const w = await weightsFromBytes(f16, 'w16.safetensors');
    const a = w.stateDict.get(tensors[0].name)!.data, b = tensors[0].data;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(Math.abs(b[i]) * 2 ** -10 + 6e-8);
    expect(w.config).toEqual((await weightsFromBytes(bytes, 'w.safetensors')).config);
  });

  it('DepthAnything.load(bytes) and a failed predict leave no tensors behind', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const model = await DepthAnything.load(new Uint8Array(bytes), { backend: 'cpu' });
    const bound = tf.memory().numTensors;
    expect(bound).toBeGreaterThan(before);
    await expect(model.predict({ data: new Uint8Array(5), width: 2, height: 2 })).rejects.toThrow(/RGB data has 5 bytes; 2x2x3 = 12 expected/);
    expect(tf.memory().numTensors).toBe(bound);
    const depth = await model.predict({ data: new Uint8Array(28 * 28 * 3).fill(100), width: 28, height: 28 }, { inputSize: 28 });
    expect([depth.width, depth.height]).toEqual([28, 28]);
    expect(tf.memory().numTensors).toBe(bound);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('V1 metric (.pt bytes): predict runs the official infer (padding + flip), as in Node, leaking nothing', async () => {
    await tf.setBackend('cpu');
    const dir = caseDir('v1-metric-indoor-tiny');
    const before = tf.memory().numTensors;
    const model = await DepthAnything.load(new Uint8Array(fs.readFileSync(path.join(dir, 'weights.pt'))), { backend: 'cpu', config: configFromJson(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), 'v1-metric-indoor-tiny') });
    const bound = tf.memory().numTensors;
    const depth = await model.predict(await decodeImage(path.join(dir, 'image.png')));
    expect(depth.metric).toBe(true);
    const infer = parseSafetensors(fs.readFileSync(path.join(dir, 'infer.safetensors'))).tensors.get('infer')!;
    expect([1, 1, depth.height, depth.width]).toEqual(infer.shape);
    expectArrayParity(depth.data, entryToFloat32(infer), 'infer');
    expect(tf.memory().numTensors).toBe(bound);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
