/**
 * A small static file server on 127.0.0.1 for the demo (`depth-anything serve`) and the browser
 * tests. Mounts map URL prefixes to folders or single files. Files are streamed; no Range support.
 * Every response carries COOP/COEP so the page is cross-origin isolated (SharedArrayBuffer, needed
 * by the multi-threaded wasm backend), and files carry validators (ETag, Last-Modified): the page
 * keys its cached weights by them, so another file served under the same name is never mistaken
 * for the one it cached.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';

export interface StaticServer {
  /** e.g. http://127.0.0.1:5173 (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface StaticServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

export function contentType(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Validators of a file: its inode, size and modification time (a file replaced by another, or a
 * server restarted on another file of the same name, changes them; two copies made within one
 * millisecond still differ by inode).
 */
export function fileValidators(st: fs.Stats): { etag: string; lastModified: string } {
  return { etag: `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.round(st.mtimeMs * 1000).toString(16)}"`, lastModified: st.mtime.toUTCString() };
}

/** Whether a conditional GET/HEAD may be answered 304 (If-None-Match wins over If-Modified-Since). */
export function notModified(headers: http.IncomingHttpHeaders, v: { etag: string; lastModified: string }): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === v.etag || t.trim() === '*');
  const ims = headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && Math.floor(Date.parse(v.lastModified) / 1000) <= Math.floor(since / 1000);
}

/** Maps a URL path to a file under the mounts, or null (unknown prefix or an escape attempt). */
export function resolveMount(mounts: Record<string, string>, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  // Longest prefix first, so '/dist/' wins over '/'.
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  for (const prefix of prefixes) {
    const p = prefix.replace(/\/+$/, '');
    if (decoded !== p && !decoded.startsWith(p + '/')) continue;
    const target = path.resolve(mounts[prefix]);
    const rest = decoded.slice(p.length).replace(/^\/+/, '');
    if (rest.split('/').includes('..')) return null;
    const file = rest === '' ? target : path.resolve(target, rest);
    if (file !== target && !file.startsWith(target + path.sep)) return null;
    return file;
  }
  return null;
}

export async function serveStatic(mounts: Record<string, string>, opts: StaticServerOptions = {}): Promise<StaticServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      // credentialless rather than require-corp: model and image URLs from other sites still load.
      'Cross-Origin-Embedder-Policy': 'credentialless',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': 'no-cache',
    };
    const fail = (code: number, msg: string): void => {
      res.writeHead(code, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(msg + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
    const urlPath = new URL(req.url ?? '/', 'http://x').pathname;
    let file = resolveMount(mounts, urlPath);
    if (file === null) return fail(404, `not found: ${urlPath}`);
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        if (!urlPath.endsWith('/')) {
          res.writeHead(301, { ...headers, Location: urlPath + '/' });
          return res.end();
        }
        file = path.join(file!, 'index.html');
        return fs.stat(file, (err2, st2) => send(err2, st2));
      }
      send(err, st);
    });
    function send(err: NodeJS.ErrnoException | null, st: fs.Stats | undefined): void {
      if (err || !st || !st.isFile()) return fail(404, `not found: ${urlPath}`);
      const v = fileValidators(st);
      const validators = { ETag: v.etag, 'Last-Modified': v.lastModified };
      if (notModified(req.headers, v)) {
        res.writeHead(304, { ...headers, ...validators });
        return void res.end();
      }
      res.writeHead(200, { ...headers, ...validators, 'Content-Type': contentType(file!), 'Content-Length': st.size });
      if (req.method === 'HEAD') return void res.end();
      const stream = fs.createReadStream(file!);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
