/**
 * `depth-anything serve --weights` as a process: a flood past --max-queue (503s, no crash, live
 * tensors and RSS flat afterwards), graceful SIGTERM (the request in flight answered, exit 0),
 * and the refusal to bind beyond loopback without a token.
 */
import { Cli, TINY, cli, png } from './helpers';

const started: Cli[] = [];
afterEach(() => { for (const p of started.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL'); });

const metric = (text: string, name: string): number => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
};

async function startServe(extra: string[]): Promise<{ proc: Cli; url: string }> {
  const proc = cli(['serve', '--weights', TINY, '--backend', 'wasm', '--port', '0', '--log-level', 'warn', ...extra]);
  started.push(proc);
  const m = await proc.waitFor(/api: (http:\/\/127\.0\.0\.1:\d+)\/v1\/depth/, 60_000);
  return { proc, url: m[1] };
}

test('a flood past --max-queue: 200s and 503s only, the server stays up, tensors and RSS flat afterwards', async () => {
  const { proc, url } = await startServe(['--max-queue', '3']);
  try {
    const image = new Uint8Array(await png(64, 48, 3));
    const send = () => fetch(`${url}/v1/depth?input_size=70`, { method: 'POST', body: image, headers: { 'content-type': 'image/png' } })
      .then(async (r) => { await r.arrayBuffer(); return { status: r.status, retry: r.headers.get('retry-after') }; });
    const flood = async () => Promise.all(Array.from({ length: 40 }, send));
    const scrape = async () => (await fetch(`${url}/metrics`)).text();

    const first = await flood();
    const warm = await scrape();
    const second = await flood();
    const after = await scrape();
    for (const answers of [first, second]) {
      expect(answers.every((a) => a.status === 200 || (a.status === 503 && a.retry === '1'))).toBe(true);
      expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(3);
    }
    expect(metric(after, 'depth_anything_tfjs_tensors')).toBe(metric(warm, 'depth_anything_tfjs_tensors'));
    const grew = metric(after, 'process_resident_memory_bytes') - metric(warm, 'process_resident_memory_bytes');
    process.stdout.write(`flood: RSS ${(metric(warm, 'process_resident_memory_bytes') / 2 ** 20).toFixed(0)} MiB after the first 40 requests, ${(grew / 2 ** 20).toFixed(1)} MiB more after 40 more\n`);
    expect(grew).toBeLessThan(64 * 2 ** 20);
    expect(metric(after, 'depth_anything_queue_depth')).toBe(0);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(proc.child.exitCode).toBeNull();
  } finally {
    proc.child.kill('SIGKILL');
  }
});

test('SIGTERM: the request in flight is answered, then the process exits 0', async () => {
  const { proc, url } = await startServe(['--log-level', 'info']);
  const image = new Uint8Array(await png(160, 120, 4));
  // A slower request (input 518); the signal once the server logs that it has it.
  const inFlight = fetch(`${url}/v1/depth?input_size=518`, { method: 'POST', body: image, headers: { 'content-type': 'image/png' } })
    .then(async (r) => ({ status: r.status, bytes: (await r.arrayBuffer()).byteLength }));
  await proc.waitFor(/"msg":"incoming request"/);
  proc.child.kill('SIGTERM');
  const answer = await inFlight;
  expect(answer).toEqual({ status: 200, bytes: 128 + 160 * 120 * 4 });
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  expect(proc.err()).toContain('SIGTERM: finishing the requests in flight');
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();
});

test('--host 0.0.0.0 needs --token-file or --no-auth; --model takes a name, not a file', async () => {
  const open = cli(['serve', '--weights', TINY, '--host', '0.0.0.0', '--port', '0']);
  expect((await open.exited).code).not.toBe(0);
  expect(open.err()).toContain('error: --host 0.0.0.0 exposes the server beyond this machine: pass --token-file FILE (bearer token) or, deliberately, --no-auth');
  const file = cli(['serve', '--model', TINY]);
  expect((await file.exited).code).not.toBe(0);
  expect(file.err()).toContain(`error: --model takes a model name now, as in predict; for a local file use --weights ${TINY}`);
});
