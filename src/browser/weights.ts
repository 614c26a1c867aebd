/**
 * Weights in a page: from a URL (streamed, with progress, kept in Cache Storage so a reload does
 * not download again), an ArrayBuffer/Uint8Array, or a File/Blob. The bytes are then read by the
 * same reader as files in Node (src/weights/read.ts): our safetensors (float32 or float16), Hugging
 * Face safetensors (with their config.json given as `hfConfig`) and official `.pth` checkpoints.
 */
import { WeightsError } from '../weights/state_dict';

export const WEIGHTS_CACHE = 'depth-anything-weights-v1';

export interface DownloadProgress {
  /** Bytes received so far. */
  loaded: number;
  /** Total bytes when the server says (Content-Length), else undefined. */
  total?: number;
  /** True when the bytes came from Cache Storage rather than the network. */
  cached: boolean;
}

export interface FetchWeightsOptions {
  onProgress?: (p: DownloadProgress) => void;
  /** Keep (and reuse) the download in Cache Storage. Default true. */
  cache?: boolean;
  signal?: AbortSignal;
}

const hasCaches = (): boolean => typeof caches !== 'undefined';

async function readBody(res: Response, url: string, cached: boolean, onProgress?: (p: DownloadProgress) => void): Promise<Uint8Array> {
  const encoded = res.headers.get('content-encoding');
  const lengthHeader = res.headers.get('content-length');
  // With a content-encoding, Content-Length counts the compressed bytes, not what we receive.
  const total = lengthHeader !== null && !encoded ? Number(lengthHeader) : undefined;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ loaded: bytes.length, total: bytes.length, cached });
    return bytes;
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(total !== undefined && Number.isSafeInteger(total) ? total : 1 << 20);
  let loaded = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new WeightsError(`${url}: the download broke off after ${loaded} bytes (${(e as Error).message})`);
    }
    if (chunk.done) break;
    const v = chunk.value;
    if (loaded + v.length > buf.length) {
      const grown = new Uint8Array(Math.max(buf.length * 2, loaded + v.length));
      grown.set(buf.subarray(0, loaded));
      buf = grown;
    }
    buf.set(v, loaded);
    loaded += v.length;
    onProgress?.({ loaded, total, cached });
  }
  if (total !== undefined && loaded !== total) {
    throw new WeightsError(`${url}: truncated download: ${loaded} of ${total} bytes`);
  }
  return loaded === buf.length ? buf : buf.slice(0, loaded);
}

/** Downloads weights (or reads them from Cache Storage), reporting progress. */
export async function fetchWeights(url: string, opts: FetchWeightsOptions = {}): Promise<Uint8Array> {
  const useCache = (opts.cache ?? true) && hasCaches();
  const key = new URL(url, globalThis.location?.href).href;
  if (useCache) {
    try {
      const hit = await (await caches.open(WEIGHTS_CACHE)).match(key);
      if (hit) return await readBody(hit, url, true, opts.onProgress);
    } catch {
      // An unreadable cache entry: download again.
    }
  }
  let res: Response;
  try {
    res = await fetch(key, { signal: opts.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new WeightsError(`${url}: cannot download (network error, or the server does not allow cross-origin requests: CORS)`);
  }
  if (!res.ok) throw new WeightsError(`${url}: download failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  const bytes = await readBody(res, url, false, opts.onProgress);
  if (useCache) {
    try {
      const cache = await caches.open(WEIGHTS_CACHE);
      await cache.put(key, new Response(bytes as BlobPart, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) } }));
    } catch {
      // Quota exceeded or storage disabled: the model still loads, it is just not kept.
    }
  }
  return bytes;
}

/** Removes downloaded weights from Cache Storage (all of them, or one URL); resolves to what was removed. */
export async function clearWeightsCache(url?: string): Promise<boolean> {
  if (!hasCaches()) return false;
  if (url === undefined) return caches.delete(WEIGHTS_CACHE);
  return (await caches.open(WEIGHTS_CACHE)).delete(new URL(url, globalThis.location?.href).href);
}

/** URLs of the weights kept in Cache Storage. */
export async function cachedWeights(): Promise<string[]> {
  if (!hasCaches() || !(await caches.has(WEIGHTS_CACHE))) return [];
  return (await (await caches.open(WEIGHTS_CACHE)).keys()).map((r) => r.url);
}

export { weightsFromBytes } from '../weights/read';
export type { BytesLoadOptions, WeightsFromBytes } from '../weights/read';
