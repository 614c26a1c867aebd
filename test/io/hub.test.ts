import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import { AddressInfo } from 'net';
import { cacheDir, cachedPath, digestPath, downloadModel, modelUrl, OFFICIAL_MODELS, HUB_URL_ENV } from '../../src/node/hub';
import { main } from '../../src/cli/main';
import { parseSafetensors } from '../../src/io/safetensors';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/parity');
const V2_SMALL = '/depth-anything/Depth-Anything-V2-Small/resolve/main/depth_anything_v2_vits.pth';

describe('names, URLs and the cache folder', () => {
  it('builds the hub URLs of the official files', () => {
    const env = {};
    expect(modelUrl(OFFICIAL_MODELS['v2-small'], env)).toBe('https://huggingface.co/depth-anything/Depth-Anything-V2-Small/resolve/main/depth_anything_v2_vits.pth');
    expect(modelUrl(OFFICIAL_MODELS['v1-large'], env)).toBe('https://huggingface.co/spaces/LiheYoung/Depth-Anything/resolve/main/checkpoints/depth_anything_vitl14.pth');
    expect(modelUrl(OFFICIAL_MODELS['metric-indoor-base'], env)).toBe('https://huggingface.co/depth-anything/Depth-Anything-V2-Metric-Hypersim-Base/resolve/main/depth_anything_v2_metric_hypersim_vitb.pth');
    expect(modelUrl(OFFICIAL_MODELS['metric-outdoor-large'], { [HUB_URL_ENV]: 'http://127.0.0.1:9/' }))
      .toBe('http://127.0.0.1:9/depth-anything/Depth-Anything-V2-Metric-VKITTI-Large/resolve/main/depth_anything_v2_metric_vkitti_vitl.pth');
  });

  it('puts the cache under DEPTH_ANYTHING_CACHE, else HF_HOME, else XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface', () => {
    expect(cacheDir({ DEPTH_ANYTHING_CACHE: '/c', HF_HOME: '/h' })).toBe('/c');
    expect(cacheDir({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe('/h/depth-anything-tfjs');
    expect(cacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/huggingface/depth-anything-tfjs');
    expect(cacheDir({})).toBe(path.join(os.homedir(), '.cache', 'huggingface', 'depth-anything-tfjs'));
    expect(cachedPath(OFFICIAL_MODELS['v1-small'], { HF_HOME: '/h' })).toBe('/h/depth-anything-tfjs/spaces--LiheYoung--Depth-Anything/depth_anything_vits14.pth');
  });

  it('refuses an unknown name, listing the known ones', async () => {
    await expect(downloadModel('v3-huge', { env: {} })).rejects.toThrow(/unknown model name "v3-huge"; known: v2-small, v2-base, v2-large, v1-small/);
  });
});

/** A stand-in for the hub on 127.0.0.1: `resolve` redirects to a blob URL that honours Range. */
interface Hub { url: string; requests: Array<{ path: string; range?: string }>; close(): Promise<void> }
interface HubBehaviour { cutAfter?: number; ignoreRange?: boolean; sha256?: string }

async function startHub(body: Buffer, behaviour: HubBehaviour): Promise<Hub> {
  const requests: Hub['requests'] = [];
  const sha = behaviour.sha256 ?? createHash('sha256').update(body).digest('hex');
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? '', range: req.headers.range });
    if (req.url === V2_SMALL) {
      res.writeHead(302, { location: '/blob/abc', 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(body.length) });
      res.end();
      return;
    }
    if (req.url !== '/blob/abc') { res.writeHead(404); res.end(); return; }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !behaviour.ignoreRange ? Number(m[1]) : 0;
    const part = body.subarray(start);
    res.writeHead(start ? 206 : 200, {
      'content-length': String(part.length),
      ...(start ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (behaviour.cutAfter !== undefined) {
      const cut = behaviour.cutAfter;
      behaviour.cutAfter = undefined; // only the first response is cut short
      res.write(part.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(part);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

describe('downloadModel from a local hub', () => {
  let body: Buffer;
  let home: string;
  beforeAll(async () => { body = await fs.readFile(path.join(FIXTURES, 'v2-tiny', 'weights.pth')); });
  beforeEach(async () => { home = await fs.mkdtemp(path.join(os.tmpdir(), 'hub-')); });
  afterEach(async () => { await fs.rm(home, { recursive: true, force: true }); });

  it('downloads through the redirect, checks sha256 and size, then serves from the cache', async () => {
    const hub = await startHub(body, {});
    try {
      const env = { [HUB_URL_ENV]: hub.url, HF_HOME: home };
      const seen: number[] = [];
      const r = await downloadModel('v2-small', { env, onProgress: (d) => seen.push(d) });
      expect(r.path).toBe(path.join(home, 'depth-anything-tfjs', 'depth-anything--Depth-Anything-V2-Small', 'depth_anything_v2_vits.pth'));
      expect((await fs.readFile(r.path)).equals(body)).toBe(true);
      expect(r.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      expect(seen[seen.length - 1]).toBe(body.length);
      expect(await fs.readdir(path.dirname(r.path))).toEqual(['depth_anything_v2_vits.pth', 'depth_anything_v2_vits.pth.sha256']);
      expect(await fs.readFile(digestPath(r.path), 'utf8')).toBe(`${r.sha256}  depth_anything_v2_vits.pth\n`);
      const again = await downloadModel('v2-small', { env });
      expect(again).toEqual({ path: r.path, cached: true, bytes: body.length, resumedFrom: 0, sha256: r.sha256 });
      expect(hub.requests.map((q) => q.path)).toEqual([V2_SMALL, '/blob/abc']); // no request for the cached file
    } finally {
      await hub.close();
    }
  });

  it('resumes an interrupted download with a Range request', async () => {
    const hub = await startHub(body, { cutAfter: 500_000 });
    try {
      const env = { [HUB_URL_ENV]: hub.url, HF_HOME: home };
      await expect(downloadModel('v2-small', { env })).rejects.toThrow(/download of v2-small .* was interrupted after \d+ bytes .*run the same command again to resume|stopped at \d+ of 1361827 bytes; run the same command again to resume/);
      const part = `${cachedPath(OFFICIAL_MODELS['v2-small'], env)}.part`;
      const partial = (await fs.stat(part)).size;
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(body.length);
      const r = await downloadModel('v2-small', { env });
      expect(r.resumedFrom).toBe(partial);
      expect(hub.requests[hub.requests.length - 1].range).toBe(`bytes=${partial}-`);
      expect((await fs.readFile(r.path)).equals(body)).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('restarts cleanly when the server ignores the range', async () => {
    const hub = await startHub(body, { ignoreRange: true });
    try {
      const env = { [HUB_URL_ENV]: hub.url, HF_HOME: home };
      const part = `${cachedPath(OFFICIAL_MODELS['v2-small'], env)}.part`;
      await fs.mkdir(path.dirname(part), { recursive: true });
      await fs.writeFile(part, Buffer.alloc(1000, 7)); // stale junk: must not end up in the file
      const r = await downloadModel('v2-small', { env });
      expect(r.resumedFrom).toBe(0);
      expect((await fs.readFile(r.path)).equals(body)).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('downloads a cached file again when its content no longer matches the recorded sha256', async () => {
    const hub = await startHub(body, {});
    try {
      const env = { [HUB_URL_ENV]: hub.url, HF_HOME: home };
      const first = await downloadModel('v2-small', { env });
      const damaged = Buffer.from(body);
      damaged[123456] ^= 0x01;
      await fs.writeFile(first.path, damaged);
      const r = await downloadModel('v2-small', { env });
      expect(r).toMatchObject({ path: first.path, cached: false, resumedFrom: 0, sha256: first.sha256 });
      expect((await fs.readFile(r.path)).equals(body)).toBe(true);
      expect(hub.requests.map((q) => q.path)).toEqual([V2_SMALL, '/blob/abc', V2_SMALL, '/blob/abc']);
    } finally {
      await hub.close();
    }
  });

  it('refuses a damaged cached file when it cannot be downloaded again (offline)', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const env = { [HUB_URL_ENV]: `http://127.0.0.1:${port}`, HF_HOME: home };
    const target = cachedPath(OFFICIAL_MODELS['v2-small'], env);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const sha = createHash('sha256').update(body).digest('hex');
    const damaged = Buffer.from(body);
    damaged[0] ^= 0x01;
    await fs.writeFile(target, damaged);
    await fs.writeFile(digestPath(target), `${sha}  depth_anything_v2_vits.pth\n`);
    const now = createHash('sha256').update(damaged).digest('hex');
    await expect(downloadModel('v2-small', { env })).rejects.toThrow(
      `cached ${target} no longer matches the sha256 recorded when it was downloaded (${sha}; now ${now}): damaged on disk; ` +
      `it was not used, and downloading it again failed: cannot download v2-small from http://127.0.0.1:${port}/`);
    // A file cached without a recorded digest (before digests were kept, or put there by hand) is used as it is.
    await fs.rm(digestPath(target));
    expect(await downloadModel('v2-small', { env })).toEqual({ path: target, cached: true, bytes: body.length, resumedFrom: 0 });
  });

  it('deletes a download whose sha256 does not match and leaves no file', async () => {
    const hub = await startHub(body, { sha256: 'f'.repeat(64) });
    try {
      const env = { [HUB_URL_ENV]: hub.url, HF_HOME: home };
      await expect(downloadModel('v2-small', { env })).rejects.toThrow(`download of v2-small is corrupt: sha256 ${createHash('sha256').update(body).digest('hex')}, the hub says ${'f'.repeat(64)}; the partial file was deleted`);
      expect(await fs.readdir(path.dirname(cachedPath(OFFICIAL_MODELS['v2-small'], env)))).toEqual([]);
    } finally {
      await hub.close();
    }
  });

  it('says how to pass a local file when the hub cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const env = { [HUB_URL_ENV]: `http://127.0.0.1:${port}`, HF_HOME: home };
    await expect(downloadModel('v2-large', { env })).rejects.toThrow(
      `cannot download v2-large from http://127.0.0.1:${port}/depth-anything/Depth-Anything-V2-Large/resolve/main/depth_anything_v2_vitl.pth: ECONNREFUSED. ` +
      'If this machine is offline, download depth_anything_v2_vitl.pth elsewhere (https://huggingface.co/depth-anything/Depth-Anything-V2-Large/resolve/main/depth_anything_v2_vitl.pth) ' +
      'and pass its path instead of --model, e.g. `depth-anything convert ./depth_anything_v2_vitl.pth model.safetensors`.');
  });

  it('reports an HTTP error status', async () => {
    const hub = await startHub(body, {});
    try {
      const env = { [HUB_URL_ENV]: hub.url, HF_HOME: home };
      await expect(downloadModel('v2-base', { env })).rejects.toThrow(/v2-base: .*depth_anything_v2_vitb\.pth answered HTTP 404 \(not found; is DEPTH_ANYTHING_HUB_URL right\?\)/);
    } finally {
      await hub.close();
    }
  });

  it('CLI: `download v2-small` prints the cached path; `convert --model v2-small OUT` converts it', async () => {
    const hub = await startHub(body, {});
    const saved = { ...process.env };
    const logs: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { logs.push(a.join(' ')); });
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      process.env[HUB_URL_ENV] = hub.url;
      process.env.HF_HOME = home;
      delete process.env.DEPTH_ANYTHING_CACHE;
      expect(await main(['node', 'depth-anything', 'download', 'v2-small'])).toBe(0);
      const cached = cachedPath(OFFICIAL_MODELS['v2-small']);
      expect(logs).toEqual([cached]);
      const out = path.join(home, 'converted.safetensors');
      expect(await main(['node', 'depth-anything', 'convert', '--model', 'v2-small', out, '--config', path.join(FIXTURES, 'v2-tiny', 'config.json')])).toBe(0);
      const got = parseSafetensors(await fs.readFile(out), out);
      const want = parseSafetensors(await fs.readFile(path.join(FIXTURES, 'v2-tiny', 'weights.safetensors')), 'ref');
      expect(got.tensors.size).toBe(want.tensors.size);
      for (const [k, w] of want.tensors) expect(Buffer.from(got.tensors.get(k)!.bytes).equals(Buffer.from(w.bytes))).toBe(true);
      expect(hub.requests.length).toBe(2); // the convert used the cache
      // `predict --model NAME` resolves the same cached file.
      const outdir = path.join(home, 'depth');
      const image = path.join(FIXTURES, '..', 'preprocess', 'tiny', 'image.png');
      expect(await main(['node', 'depth-anything', 'predict', image, '--model', 'v2-small', '--config', path.join(FIXTURES, 'v2-tiny', 'config.json'),
        '--input-size', '28', '--backend', 'cpu', '--format', 'npy', '--outdir', outdir])).toBe(0);
      expect((await fs.readdir(outdir))).toEqual(['image_depth.npy']);
      expect(hub.requests.length).toBe(2);
    } finally {
      process.env = saved;
      spy.mockRestore();
      err.mockRestore();
      await hub.close();
    }
  });
});
