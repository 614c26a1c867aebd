/**
 * The protocol between a test page and its Node driver (src/verify/browser_run.ts): the driver calls
 * `depthAnythingPage.start(args)` and polls `poll()` (a full-size case takes minutes on software
 * rendering, past puppeteer's protocol timeout for one evaluate), then reads any bytes the task
 * produced in base64 chunks (one CDP message must stay small).
 */
export interface PageTaskOutput {
  /** JSON-able result handed back to Node. */
  result: unknown;
  /** Optional binary output (e.g. a safetensors dump). */
  bytes?: Uint8Array;
}

/**
 * Results cross as JSON, which has no NaN or Infinity (both become null): non-finite numbers travel
 * as `{ $number: 'NaN' | 'Infinity' | '-Infinity' }` and are restored by `restoreNonFinite` in Node
 * (a comparison's maxAbsLimit of Infinity, a relL2 of NaN for a shape mismatch).
 */
export function encodeNonFinite(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : { $number: String(v) };
  if (Array.isArray(v)) return v.map(encodeNonFinite);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeNonFinite(x)]));
  }
  return v;
}

export function restoreNonFinite(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(restoreNonFinite);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$number' && typeof o.$number === 'string') return Number(o.$number);
    return Object.fromEntries(keys.map((k) => [k, restoreNonFinite(o[k])]));
  }
  return v;
}

type State = { done: false } | { done: true; result?: unknown; error?: string; bytes?: number };

export function exposePageTask<A>(task: (args: A) => Promise<PageTaskOutput>): void {
  let state: State = { done: false };
  let bytes: Uint8Array | undefined;
  const api = {
    start(args: A): void {
      state = { done: false };
      bytes = undefined;
      task(args).then(
        (out) => { bytes = out.bytes; state = { done: true, result: encodeNonFinite(out.result), ...(out.bytes ? { bytes: out.bytes.length } : {}) }; },
        (e: unknown) => { state = { done: true, error: e instanceof Error ? e.message : String(e) }; },
      );
    },
    poll(): State {
      return state;
    },
    /** base64 of bytes [offset, offset + length). */
    chunk(offset: number, length: number): string {
      if (!bytes) return '';
      const part = bytes.subarray(offset, offset + length);
      let s = '';
      for (let i = 0; i < part.length; i += 0x8000) s += String.fromCharCode(...part.subarray(i, i + 0x8000));
      return btoa(s);
    },
  };
  (globalThis as unknown as { depthAnythingPage: typeof api }).depthAnythingPage = api;
}

export async function fetchBytes(url: string, name: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${name} (${url}): HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
