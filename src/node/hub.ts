/**
 * Official checkpoints by name, downloaded once from the Hugging Face hub into a cache folder.
 * Downloads go to `<file>.part` and are renamed when complete and verified (size, and sha256 when
 * the hub gives it: LFS files carry it as `X-Linked-ETag`), so an interrupted download resumes
 * with an HTTP Range request, and a server that ignores the range restarts it cleanly. The sha256
 * of every completed download is recorded beside it (`<file>.sha256`) and checked on each later use.
 */
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DA3_VARIANTS, Da3VariantName } from '../config/da3';
import { VDA_VARIANTS, VdaVariantName } from '../config/vda';
import { writeFileAtomic } from './atomic';

export class HubError extends Error {
  constructor(message: string) { super(message); this.name = 'HubError'; }
}

export interface OfficialModel {
  /** Hub repository (`spaces/...` for V1, which lives in a Space). */
  repo: string;
  /** Path of the file inside the repository. */
  file: string;
  /** The licence of the weights, as the release states it (SPDX identifier). */
  licence: string;
  /** Where the licence is stated, when not on the model's own page. */
  licenceNote?: string;
}

const APACHE = 'Apache-2.0';
const NC = 'CC-BY-NC-4.0';
// V1's repository (LiheYoung/Depth-Anything) is Apache-2.0 and states no separate licence for its checkpoints.
const V1_NOTE = 'the Depth Anything V1 repository\'s licence; the release states no separate one for its checkpoints';

// Only the Small models of V2 (relative and metric) are Apache-2.0; Base and Large are CC BY-NC 4.0.
const v2Licence = (size: string): string => (size === 'Small' ? APACHE : NC);
const v2 = (size: string, enc: string): OfficialModel => ({ repo: `depth-anything/Depth-Anything-V2-${size}`, file: `depth_anything_v2_${enc}.pth`, licence: v2Licence(size) });
const v1 = (enc: string): OfficialModel => ({ repo: 'spaces/LiheYoung/Depth-Anything', file: `checkpoints/depth_anything_${enc}14.pth`, licence: APACHE, licenceNote: V1_NOTE });
const v1Space = (file: string): OfficialModel => ({ repo: 'spaces/LiheYoung/Depth-Anything', file, licence: APACHE, licenceNote: V1_NOTE });
const metric = (set: 'Hypersim' | 'VKITTI', size: string, enc: string): OfficialModel =>
  ({ repo: `depth-anything/Depth-Anything-V2-Metric-${set}-${size}`, file: `depth_anything_v2_metric_${set.toLowerCase()}_${enc}.pth`, licence: v2Licence(size) });
/** Depth Anything 3: `model.safetensors` of each release repository (src/config/da3.ts has the repository and licence). */
const da3 = (name: Da3VariantName, repo: string = DA3_VARIANTS[name].repo): OfficialModel => ({ repo, file: 'model.safetensors', licence: DA3_VARIANTS[name].licence });
/** Video Depth Anything: the `.pth` of each release repository (src/config/vda.ts). */
const vda = (name: VdaVariantName): OfficialModel => ({ repo: VDA_VARIANTS[name].repo, file: VDA_VARIANTS[name].file, licence: VDA_VARIANTS[name].licence });

/**
 * The released checkpoints: V2 relative, V1, V2 metric indoor = Hypersim, outdoor = Virtual KITTI,
 * segmentation, V1 metric, Depth Anything 3 (the `-1.1` releases are the same networks retrained,
 * which the official README says to prefer), Video Depth Anything. Not here: DA3NESTED-GIANT-LARGE
 * (DA3-GIANT and DA3METRIC-LARGE composed, with an alignment step that is not built).
 */
export const OFFICIAL_MODELS = {
  'v2-small': v2('Small', 'vits'),
  'v2-base': v2('Base', 'vitb'),
  'v2-large': v2('Large', 'vitl'),
  'v1-small': v1('vits'),
  'v1-base': v1('vitb'),
  'v1-large': v1('vitl'),
  'metric-indoor-small': metric('Hypersim', 'Small', 'vits'),
  'metric-indoor-base': metric('Hypersim', 'Base', 'vitb'),
  'metric-indoor-large': metric('Hypersim', 'Large', 'vitl'),
  'metric-outdoor-small': metric('VKITTI', 'Small', 'vits'),
  'metric-outdoor-base': metric('VKITTI', 'Base', 'vitb'),
  'metric-outdoor-large': metric('VKITTI', 'Large', 'vitl'),
  'seg-ade20k': v1Space('checkpoints_semseg/ade20k_vitl_mIoU_59.4.pth'),
  'seg-cityscapes': v1Space('checkpoints_semseg/cityscapes_vitl_mIoU_86.4.pth'),
  // V1 metric (ZoeDepth head on V1 ViT-L), fine-tuned on NYUv2 (indoor) and KITTI (outdoor).
  'v1-metric-indoor': v1Space('checkpoints_metric_depth/depth_anything_metric_depth_indoor.pt'),
  'v1-metric-outdoor': v1Space('checkpoints_metric_depth/depth_anything_metric_depth_outdoor.pt'),
  'da3-small': da3('da3-small'),
  'da3-base': da3('da3-base'),
  'da3-large': da3('da3-large'),
  'da3-large-1.1': da3('da3-large', 'depth-anything/DA3-LARGE-1.1'),
  'da3-giant': da3('da3-giant'),
  'da3-giant-1.1': da3('da3-giant', 'depth-anything/DA3-GIANT-1.1'),
  'da3mono-large': da3('da3mono-large'),
  'da3metric-large': da3('da3metric-large'),
  'vda-small': vda('vda-small'),
  'vda-base': vda('vda-base'),
  'vda-large': vda('vda-large'),
  'vda-metric-small': vda('vda-metric-small'),
  'vda-metric-base': vda('vda-metric-base'),
  'vda-metric-large': vda('vda-metric-large'),
} satisfies Record<string, OfficialModel>;

export type OfficialModelName = keyof typeof OFFICIAL_MODELS;

export const HUB_URL_ENV = 'DEPTH_ANYTHING_HUB_URL';
export const DEFAULT_HUB_URL = 'https://huggingface.co';

export function isOfficialModelName(name: string): name is OfficialModelName {
  return Object.prototype.hasOwnProperty.call(OFFICIAL_MODELS, name);
}

export function officialModel(name: string): OfficialModel {
  if (!isOfficialModelName(name)) {
    throw new HubError(`unknown model name "${name}"; known: ${Object.keys(OFFICIAL_MODELS).join(', ')}`);
  }
  return OFFICIAL_MODELS[name];
}

/** One line naming a model's weights licence (what `download` and `predict --model` print). */
export function licenceLine(name: string): string {
  const m = officialModel(name);
  return `${name} (${m.repo}): weights licence ${m.licence}${m.licence === NC ? ' (non-commercial use only)' : ''}${m.licenceNote ? `, ${m.licenceNote}` : ''}`;
}

export function modelUrl(m: OfficialModel, env: NodeJS.ProcessEnv = process.env): string {
  const base = (env[HUB_URL_ENV] || DEFAULT_HUB_URL).replace(/\/+$/, '');
  return `${base}/${m.repo}/resolve/main/${m.file}`;
}

/**
 * `$DEPTH_ANYTHING_CACHE`, else `$HF_HOME/depth-anything-tfjs`, else
 * `${XDG_CACHE_HOME:-~/.cache}/huggingface/depth-anything-tfjs` (HF_HOME's own default).
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DEPTH_ANYTHING_CACHE) return env.DEPTH_ANYTHING_CACHE;
  const hfHome = env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(hfHome, 'depth-anything-tfjs');
}

export function cachedPath(m: OfficialModel, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), m.repo.replace(/\//g, '--'), path.basename(m.file));
}

export interface DownloadOptions {
  env?: NodeJS.ProcessEnv;
  /** Called as bytes arrive: (bytes so far, total or undefined). */
  onProgress?: (done: number, total: number | undefined) => void;
  /** Download again even if the file is cached. */
  force?: boolean;
}

export interface DownloadResult { path: string; cached: boolean; bytes: number; resumedFrom: number; sha256?: string }

const SHA256 = /^[0-9a-f]{64}$/;

/** Where the sha256 of a downloaded file is recorded: `<file>.sha256`, in `sha256sum` format. */
export const digestPath = (file: string): string => `${file}.sha256`;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

type CacheState =
  | { state: 'missing' }
  | { state: 'ok'; bytes: number; sha256?: string }
  | { state: 'damaged'; problem: string };

/**
 * A cached file is used only if its content still has the sha256 recorded when it was downloaded
 * (hashing a 1.3 GB file takes a few seconds; a damaged file would otherwise be used as is).
 * Files cached before digests were recorded, or placed there by hand, have none: used as they are.
 */
async function checkCached(target: string): Promise<CacheState> {
  let bytes: number;
  try {
    bytes = (await fs.stat(target)).size;
  } catch {
    return { state: 'missing' };
  }
  let recorded: string | undefined;
  try {
    recorded = /^([0-9a-f]{64})\b/.exec(await fs.readFile(digestPath(target), 'utf8'))?.[1];
    if (!recorded) return { state: 'damaged', problem: `${digestPath(target)} holds no sha256` };
  } catch {
    return { state: 'ok', bytes };
  }
  const actual = await sha256File(target);
  if (actual !== recorded) {
    return { state: 'damaged', problem: `cached ${target} no longer matches the sha256 recorded when it was downloaded (${recorded}; now ${actual}): damaged on disk` };
  }
  return { state: 'ok', bytes, sha256: actual };
}

/**
 * The weights file for an official name, from the cache (verified against its recorded sha256)
 * or downloaded into it; a damaged cached file is downloaded again, or refused when that fails.
 */
export async function downloadModel(name: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const env = opts.env ?? process.env;
  const m = officialModel(name);
  const target = cachedPath(m, env);
  if (!opts.force) {
    const cached = await checkCached(target);
    if (cached.state === 'ok') {
      return { path: target, cached: true, bytes: cached.bytes, resumedFrom: 0, ...(cached.sha256 ? { sha256: cached.sha256 } : {}) };
    }
    if (cached.state === 'damaged') {
      try {
        return await fetchIntoCache(name, m, target, opts);
      } catch (e) {
        if (!(e instanceof HubError)) throw e;
        throw new HubError(`${cached.problem}; it was not used, and downloading it again failed: ${e.message}`);
      }
    }
  }
  return fetchIntoCache(name, m, target, opts);
}

/** Downloads (or resumes) into `<target>.part`, verifies, records the sha256, then renames. */
async function fetchIntoCache(name: string, m: OfficialModel, target: string, opts: DownloadOptions): Promise<DownloadResult> {
  const env = opts.env ?? process.env;
  const part = `${target}.part`;
  await fs.mkdir(path.dirname(target), { recursive: true });
  const url = modelUrl(m, env);
  const offline = (e: unknown): never => {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new HubError(`cannot download ${name} from ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}. ` +
      `If this machine is offline, download ${path.basename(m.file)} elsewhere (${DEFAULT_HUB_URL}/${m.repo}/resolve/main/${m.file}) ` +
      `and pass its path instead of --model, e.g. \`depth-anything convert ./${path.basename(m.file)} model.safetensors\`.`);
  };

  let start = 0;
  try { start = (await fs.stat(part)).size; } catch { /* fresh download */ }
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers: Record<string, string> = start > 0 ? { Range: `bytes=${start}-` } : {};
    let res: Response;
    let expected: { size?: number; sha256?: string } = {};
    try {
      // The hub answers `resolve` with a redirect to its CDN and puts the LFS sha256 and size
      // on that redirect, so follow it by hand to keep them.
      res = await fetch(url, { headers, redirect: 'manual' });
      expected = linkedInfo(res.headers);
      if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
        const next = new URL(res.headers.get('location') as string, url).toString();
        res = await fetch(next, { headers });
        expected = { ...linkedInfo(res.headers), ...dropUndefined(expected) };
      }
    } catch (e) {
      return offline(e);
    }
    if (res.status === 416 && start > 0) {
      // Our partial file is not a prefix the server can continue (stale or complete): restart.
      await res.body?.cancel();
      await fs.rm(part, { force: true });
      start = 0;
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new HubError(`cannot download ${name}: ${url} answered HTTP ${res.status}${res.status === 404 ? ' (not found; is DEPTH_ANYTHING_HUB_URL right?)' : ''}`);
    }
    let offset = 0;
    if (res.status === 206) {
      const m206 = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      offset = m206 ? Number(m206[1]) : -1;
      if (m206 && m206[2] !== '*' && expected.size === undefined) expected.size = Number(m206[2]);
    } else if (expected.size === undefined && res.headers.get('content-length')) {
      expected.size = Number(res.headers.get('content-length'));
    }
    if (offset !== start) {
      // 200 (range ignored) or a range we did not ask for: start over from zero.
      start = 0;
      if (res.status === 206) { await res.body?.cancel(); await fs.rm(part, { force: true }); continue; }
    }
    const hash = createHash('sha256');
    if (start > 0) for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
    const fh = await fs.open(part, start > 0 ? 'a' : 'w');
    let done = start;
    try {
      if (!res.body) throw new HubError(`cannot download ${name}: empty response from ${url}`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        hash.update(chunk);
        done += chunk.length;
        opts.onProgress?.(done, expected.size);
      }
    } catch (e) {
      if (e instanceof HubError) throw e;
      throw new HubError(`download of ${name} from ${url} was interrupted after ${done} bytes (${(e as Error).message}); run the same command again to resume`);
    } finally {
      await fh.close();
    }
    if (expected.size !== undefined && done !== expected.size) {
      throw new HubError(`download of ${name} stopped at ${done} of ${expected.size} bytes; run the same command again to resume`);
    }
    const sha256 = hash.digest('hex');
    if (expected.sha256 && sha256 !== expected.sha256) {
      await fs.rm(part, { force: true });
      throw new HubError(`download of ${name} is corrupt: sha256 ${sha256}, the hub says ${expected.sha256}; the partial file was deleted, run the command again`);
    }
    await writeFileAtomic(digestPath(target), `${sha256}  ${path.basename(target)}\n`);
    await fs.rename(part, target);
    return { path: target, cached: false, bytes: done, resumedFrom: start, sha256 };
  }
  throw new HubError(`cannot download ${name} from ${url}: the server rejected resuming and restarting`);
}

function linkedInfo(h: Headers): { size?: number; sha256?: string } {
  const tag = (h.get('x-linked-etag') ?? h.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
  const size = h.get('x-linked-size');
  return { ...(SHA256.test(tag) ? { sha256: tag } : {}), ...(size && /^\d+$/.test(size) ? { size: Number(size) } : {}) };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
