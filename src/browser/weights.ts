/**
 * Weights in a page: from a URL (streamed, with progress, kept in Cache Storage so a reload does
 * not download again), an ArrayBuffer/Uint8Array, or a File/Blob. A cached copy is used only when
 * the server still describes the same content (its ETag / Last-Modified and size, asked by a HEAD
 * request each time): every fixture and many user files are called `weights.safetensors`, and a
 * server restarted on another file of that name must not get the old bytes back. A server that
 * sends no validators is not cached at all. The bytes are then read by the
 * same reader as files in Node (src/weights/read.ts): our safetensors (float32 or float16), Hugging
 * Face safetensors (with their config.json given as `hfConfig`) and official `.pth` checkpoints.
 */
import { WeightsError } from '../weights/state_dict';

// v2: entries record the content identity they were stored under (v1 entries, keyed by URL alone, are never read).
export const WEIGHTS_CACHE = 'depth-anything-weights-v2';

export interface DownloadProgress {
  /** Bytes received so far. */
  loaded: number;
  /** Total bytes when the server says (Content-Length), else undefined. */
  total?: number;
  /** True when the bytes came from Cache Storage rather than the network. */
  cached: boolean;
}

/** What identifies a download's content, from the server's validators; undefined when it sends none. */
export function contentIdentity(headers: Headers): string | undefined {
  const etag = headers.get('etag');
  const modified = headers.get('last-modified');
  if (!etag && !modified) return undefined;
  // Content-Length counts encoded bytes under a content-encoding: still part of the identity.
  return JSON.stringify([etag ?? '', modified ?? '', headers.get('content-length') ?? '']);
}

/** Where a cached entry records the identity it was stored under. */
const IDENTITY_HEADER = 'x-depth-anything-identity';

export interface FetchedWeights {
  bytes: Uint8Array;
  /** The server's validators for these bytes (see contentIdentity), or undefined. */
  identity?: string;
  /** True when the bytes came from Cache Storage (after the server confirmed the same identity). */
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
  return (await fetchWeightsWithIdentity(url, opts)).bytes;
}

function networkError(url: string, e: unknown): Error {
  if ((e as Error).name === 'AbortError') return e as Error;
  return new WeightsError(`${url}: cannot download (network error, or the server does not allow cross-origin requests: CORS)`);
}

/** The server's identity of the content at `key` now (a HEAD request), or undefined when it gives none. */
async function currentIdentity(key: string, url: string, signal?: AbortSignal): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch(key, { method: 'HEAD', cache: 'no-store', signal });
  } catch (e) {
    throw networkError(url, e);
  }
  return res.ok ? contentIdentity(res.headers) : undefined;
}

/** `fetchWeights`, also saying what identifies the bytes and whether they came from the cache. */
export async function fetchWeightsWithIdentity(url: string, opts: FetchWeightsOptions = {}): Promise<FetchedWeights> {
  const useCache = (opts.cache ?? true) && hasCaches();
  const key = new URL(url, globalThis.location?.href).href;
  let identity: string | undefined;
  if (useCache) {
    identity = await currentIdentity(key, url, opts.signal);
    if (identity !== undefined) {
      try {
        const hit = await (await caches.open(WEIGHTS_CACHE)).match(key);
        if (hit && hit.headers.get(IDENTITY_HEADER) === identity) return { bytes: await readBody(hit, url, true, opts.onProgress), identity, cached: true };
      } catch {
        // An unreadable cache entry: download again.
      }
    }
  }
  let res: Response;
  try {
    // The browser's HTTP cache is bypassed too: it could answer with what it kept of an older file.
    res = await fetch(key, { signal: opts.signal, cache: useCache ? 'no-store' : 'default' });
  } catch (e) {
    throw networkError(url, e);
  }
  if (!res.ok) throw new WeightsError(`${url}: download failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  // The GET's own validators describe the bytes received (the file may have changed since the HEAD).
  identity = contentIdentity(res.headers) ?? identity;
  const bytes = await readBody(res, url, false, opts.onProgress);
  if (useCache) {
    try {
      const cache = await caches.open(WEIGHTS_CACHE);
      if (identity === undefined) await cache.delete(key);
      else await cache.put(key, new Response(bytes as BlobPart, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), [IDENTITY_HEADER]: identity } }));
    } catch {
      // Quota exceeded or storage disabled: the model still loads, it is just not kept.
    }
  }
  return { bytes, identity, cached: false };
}

/** SHA-256 of bytes, hex (Web Crypto; needs a secure context such as http://127.0.0.1 or https). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Removes downloaded weights from Cache Storage (all of them, or one URL); resolves to what was removed. */
export async function clearWeightsCache(url?: string): Promise<boolean> {
  if (!hasCaches()) return false;
  if (url === undefined) {
    const old = await caches.delete('depth-anything-weights-v1');
    return (await caches.delete(WEIGHTS_CACHE)) || old;
  }
  return (await caches.open(WEIGHTS_CACHE)).delete(new URL(url, globalThis.location?.href).href);
}

/** URLs of the weights kept in Cache Storage. */
export async function cachedWeights(): Promise<string[]> {
  if (!hasCaches() || !(await caches.has(WEIGHTS_CACHE))) return [];
  return (await (await caches.open(WEIGHTS_CACHE)).keys()).map((r) => r.url);
}

export { weightsFromBytes } from '../weights/read';
export type { BytesLoadOptions, WeightsFromBytes } from '../weights/read';
