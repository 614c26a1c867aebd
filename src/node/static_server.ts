/**
 * A small static file server on 127.0.0.1 for the demo (`depth-anything serve`) and the browser
 * tests. Mounts map URL prefixes to folders or single files. Files are streamed; no Range support.
 * Every response carries COOP/COEP so the page is cross-origin isolated (SharedArrayBuffer, needed
 * by the multi-threaded wasm backend).
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
      res.writeHead(200, { ...headers, 'Content-Type': contentType(file!), 'Content-Length': st.size });
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
