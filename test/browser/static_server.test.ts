/** The demo's static server: mounts, content types, isolation headers, no escapes. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveMount, serveStatic, StaticServer } from '../../src/node/static_server';

describe('serveStatic', () => {
  let dir: string;
  let server: StaticServer;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'static-'));
    fs.mkdirSync(path.join(dir, 'site', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'site', 'index.html'), '<p>hi</p>');
    fs.writeFileSync(path.join(dir, 'site', 'a.wasm'), Buffer.from([0, 97, 115, 109]));
    fs.writeFileSync(path.join(dir, 'site', 'sub', 'm.js'), 'export {}');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'no');
    fs.writeFileSync(path.join(dir, 'w.safetensors'), 'x');
    server = await serveStatic({ '/': path.join(dir, 'site'), '/models/w.safetensors': path.join(dir, 'w.safetensors') });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves files with their content types and the cross-origin isolation headers', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const cases: Array<[string, string]> = [['/', 'text/html'], ['/a.wasm', 'application/wasm'], ['/sub/m.js', 'text/javascript'], ['/models/w.safetensors', 'application/octet-stream']];
    for (const [url, type] of cases) {
      const res = await fetch(server.url + url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('credentialless');
    }
    expect(await (await fetch(server.url + '/')).text()).toBe('<p>hi</p>');
  });

  it('answers 404 for missing files and for paths that climb out of a mount', async () => {
    expect((await fetch(server.url + '/nope.js')).status).toBe(404);
    expect((await fetch(server.url + '/%2e%2e/secret.txt')).status).toBe(404);
    expect((await fetch(server.url + '/sub/..%2f..%2fsecret.txt')).status).toBe(404);
    expect(resolveMount({ '/': dir }, '/../secret.txt')).toBeNull();
    expect(resolveMount({ '/': dir }, '/a/%2e%2e/%2e%2e/x')).toBeNull();
    expect(resolveMount({ '/x/': dir }, '/y/z')).toBeNull();
    expect(resolveMount({ '/': '/a', '/dist/': '/b' }, '/dist/c.js')).toBe(path.resolve('/b/c.js'));
  });
});
