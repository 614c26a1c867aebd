#!/usr/bin/env node
/**
 * Figures for docs/serving.md and docs/at-scale.md (a bench, not a test): the HTTP API under load
 * with autocannon (requests/s, p50/p99 latency at concurrency 1, 4, 16; with and without
 * batching), and jobs/s of `worker`s on one machine (1 and 2 workers) on a redis-server of its own.
 *
 *   node tools/bench-service.mjs [--weights FILE] [--input-size N] [--image WxH] [--duration S]
 *                                [--batches 1,4] [--concurrency 1,4,16] [--jobs N] [--workers 1,2] [--backend wasm]
 *
 * Runs the CLI from the sources (node --import tsx src/cli/run.ts). Prints one Markdown table per part.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import sharp from 'sharp';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const weights = path.resolve(ROOT, arg('weights', '../shared/fixtures/parity/v2-tiny/weights.safetensors'));
const inputSize = arg('input-size', '518');
const [imgW, imgH] = arg('image', '640x480').split('x').map(Number);
const duration = Number(arg('duration', '10'));
const batches = arg('batches', '1,4').split(',').map(Number);
const concurrencies = arg('concurrency', '1,4,16').split(',').map(Number);
const nJobs = Number(arg('jobs', '0'));
const workerCounts = arg('workers', '1,2').split(',').map(Number);
const backend = arg('backend', 'wasm');

function cli(args) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (d) => { text += d; });
  child.stderr.on('data', (d) => { text += d; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (re) => new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = re.exec(text);
      if (m) { clearInterval(t); resolve(m); } else if (child.exitCode !== null) { clearInterval(t); reject(new Error(text)); }
    }, 100);
  });
  return { child, exited, waitFor, text: () => text };
}

const image = await sharp(Buffer.from(Array.from({ length: imgW * imgH * 3 }, (_, i) => (i * 7 + (i >> 9)) % 251)), { raw: { width: imgW, height: imgH, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`model: ${path.relative(ROOT, weights)}; backend ${backend}; input size ${inputSize}; image ${imgW}x${imgH} JPEG (${image.length} bytes)\n`);

if (duration > 0) {
  console.log('| max batch | concurrency | answers/s | p50 ms | p99 ms | 2xx | other | mean batch |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const maxBatch of batches) {
    const serve = cli(['serve', '--weights', weights, '--backend', backend, '--port', '0', '--log-level', 'warn', '--max-batch', String(maxBatch), '--max-queue', '64', '--timeout', '600']);
    const [, url] = await serve.waitFor(/api: (http:\/\/127\.0\.0\.1:\d+)\/v1\/depth/);
    // Warm-up: the first passes compile and allocate.
    for (let k = 0; k < 2; k++) await (await fetch(`${url}/v1/depth?input_size=${inputSize}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } })).arrayBuffer();
    for (const connections of concurrencies) {
      const before = await (await fetch(`${url}/metrics`)).text();
      const r = await autocannon({
        url: `${url}/v1/depth?input_size=${inputSize}`, method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' },
        connections, duration, timeout: 600,
      });
      const after = await (await fetch(`${url}/metrics`)).text();
      const num = (t, n) => Number(new RegExp(`^${n} (\\S+)$`, 'm').exec(t)?.[1] ?? NaN);
      const runs = num(after, 'depth_anything_batch_size_count') - num(before, 'depth_anything_batch_size_count');
      const imgs = num(after, 'depth_anything_batch_size_sum') - num(before, 'depth_anything_batch_size_sum');
      console.log(`| ${maxBatch} | ${connections} | ${(r['2xx'] / r.duration).toFixed(2)} | ${r.latency.p50} | ${r.latency.p99} | ${r['2xx']} | ${r.non2xx + r.errors + r.timeouts} | ${(imgs / runs).toFixed(2)} |`);
    }
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  console.log('');
}

if (nJobs > 0) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'da-bench-'));
  try {
    const input = path.join(dir, 'in');
    mkdirSync(input);
    for (let k = 0; k < nJobs; k++) writeFileSync(path.join(input, `img${k}.jpg`), image);
    console.log('| workers | jobs | seconds | jobs/s |');
    console.log('|---|---|---|---|');
    for (const n of workerCounts) {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500));
      const url = `redis://127.0.0.1:${port}`;
      const threads = String(Math.max(1, Math.floor(os.cpus().length / n)));
      const workers = Array.from({ length: n }, (_, k) => cli(['worker', '--redis', url, '--queue', 'bench', '--input-root', dir, '--output-root', dir, '--weights', weights, '--backend', backend, '--threads', threads, '--log-level', 'warn', '--name', `w${k}`]));
      await new Promise((r) => setTimeout(r, 8000)); // model loads
      const t0 = Date.now();
      const submit = cli(['submit', '--redis', url, '--queue', 'bench', '--outdir', path.join(dir, `out${n}`), '--format', 'npy', '--input-size', inputSize, '--wait', input]);
      const code = await submit.exited;
      const secs = (Date.now() - t0) / 1000;
      console.log(`| ${n} (${threads} wasm threads each) | ${nJobs} | ${secs.toFixed(1)} | ${(nJobs / secs).toFixed(2)}${code ? ' (failures!)' : ''} |`);
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
      redis.kill('SIGTERM');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
