/**
 * The inference server (fastify): one model loaded once, `POST /v1/depth` (or `/v1/segment`),
 * health, readiness, Prometheus metrics and the OpenAPI description, and optionally the demo
 * page. Each answer is what the CLI writes for the same image (src/node/run_job.ts encodes both).
 * See docs/serving.md.
 */
import { timingSafeEqual } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import sharp from 'sharp';
import { DepthAnything } from '../node/depth_anything';
import { decodeImage } from '../node/image';
import { OutputFormat } from '../node/outputs';
import { encodeDepthOutput, encodeSegOutput } from '../node/run_job';
import { SEG_OUTPUT_FORMATS, SegOutputFormat } from '../node/seg_outputs';
import { Segmentation, Segmenter } from '../node/segmenter';
import { contentType, fileValidators, notModified, resolveMount } from '../node/static_server';
import { DepthMap } from '../pipeline/postprocess';
import { targetSize } from '../pipeline/preprocess';
import { RgbImage } from '../pipeline/rgb';
import { ApiError, errorBody, toApiError } from './errors';
import { InferQueue } from './infer_queue';
import { ServiceMetrics, createMetrics } from './metrics';

export type ServedModel = { task: 'depth'; model: DepthAnything } | { task: 'segment'; model: Segmenter };

export interface ServerOptions {
  served: ServedModel;
  /** Requests accepted and waiting at most (then 503 with Retry-After). */
  maxQueue: number;
  /** Requests of one network input size run as one batch of at most this many. */
  maxBatch: number;
  /** Largest request body in bytes (413). */
  maxBody: number;
  /** Largest image in pixels, read from its header before decoding (413). */
  maxPixels: number;
  /** Milliseconds from acceptance to the answer (504). */
  timeoutMs: number;
  /** Bearer token required on everything but /healthz, /readyz and the demo page; none: no auth. */
  token?: string;
  /** The demo page's mounts (URL prefix -> folder), served on GET. */
  demoMounts?: Record<string, string>;
  /** pino options (fastify's logger) or false. */
  logger?: boolean | { level: string };
}

/** Image types the API accepts as a raw body (sharp decodes each). */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/tiff', 'image/gif', 'image/avif'];
const DEPTH_FORMATS = ['npy', 'png16', 'color', 'json'] as const;
type DepthApiFormat = (typeof DEPTH_FORMATS)[number];

const CONTENT_TYPES: Record<string, string> = { npy: 'application/x-npy', png16: 'image/png', color: 'image/png', labels: 'image/png', overlay: 'image/png', json: 'application/json' };

/** Width and height from the image's header (sharp reads no pixels), or 400 when there is no image. */
async function headerSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    throw new ApiError(400, 'bad_image', `not a decodable image (JPEG, PNG, WebP, TIFF, GIF, AVIF): ${(e as Error).message}`);
  }
  if (!meta.width || !meta.height) throw new ApiError(400, 'bad_image', 'the image header gives no size');
  // An animation decodes its first page only.
  return { width: meta.width, height: meta.pageHeight ?? meta.height };
}

/** The image's bytes from a raw body or a multipart field `image`. */
async function imageBytes(req: FastifyRequest): Promise<Buffer> {
  if (req.isMultipart()) {
    const part = await req.file();
    if (!part || part.fieldname !== 'image') {
      part?.file.resume();
      throw new ApiError(400, 'missing_image', 'multipart body without a file field "image"');
    }
    const buf = await part.toBuffer();
    if (!buf.length) throw new ApiError(400, 'empty_body', 'the multipart field "image" is empty');
    return buf;
  }
  const body = req.body;
  if (!Buffer.isBuffer(body) || body.length === 0) throw new ApiError(400, 'empty_body', 'the request body is empty: send the image\'s bytes (Content-Type: image/...) or multipart/form-data with a field "image"');
  return body;
}

const ms = (s: number) => (s * 1000).toFixed(1);

export interface Service {
  app: FastifyInstance;
  metrics: ServiceMetrics;
  queue: InferQueue<{ img: RgbImage; inputSize?: number }, DepthMap | Segmentation>;
  /** Stops accepting, answers what is in flight, frees the model. */
  close(): Promise<void>;
}

export async function buildServer(opts: ServerOptions): Promise<Service> {
  const { served } = opts;
  const queue = new InferQueue<{ img: RgbImage; inputSize?: number }, DepthMap | Segmentation>(async (inputs) => {
    if (served.task === 'depth') return served.model.predictRgbBatch(inputs.map((i) => i.img), { inputSize: inputs[0].inputSize });
    const out: Segmentation[] = [];
    for (const i of inputs) out.push(await served.model.segment(i.img));
    return out;
  }, {
    maxQueue: opts.maxQueue,
    maxBatch: served.task === 'depth' ? opts.maxBatch : 1,
    onBatch: (size, seconds) => { metrics.batchSize.observe(size); metrics.modelSeconds.observe(seconds); },
  });
  const metrics = createMetrics(() => queue.depth, opts.maxBatch);
  let closing = false;

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.maxBody,
    // Answer 503 to requests that arrive while closing (fastify's default, said here because SIGTERM relies on it).
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // An unknown query parameter is a 400, not silently dropped (fastify's default removes it).
    ajv: { customOptions: { removeAdditional: false } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'depth-anything-tfjs', version: require('../../package.json').version, description: 'Depth Anything on TensorFlow.js: depth (or segmentation) of one image per request. See docs/serving.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: opts.token ? [{ bearer: [] }] : [],
    },
  });
  // Only images and multipart: JSON or text bodies are 415, not parsed.
  app.removeAllContentTypeParsers();
  await app.register(multipart, { limits: { fileSize: opts.maxBody, files: 1, fields: 10, parts: 20 }, throwFileSizeLimit: true });
  app.addContentTypeParser([...IMAGE_TYPES, 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const token = opts.token !== undefined ? Buffer.from(opts.token) : undefined;
  const open = new Set(['/healthz', '/readyz']);
  app.addHook('onRequest', async (req) => {
    if (!token || open.has(req.url.split('?')[0]) || (req.method === 'GET' && !isApiPath(req.url))) return;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const given = m ? Buffer.from(m[1]) : undefined;
    if (!given || given.length !== token.length || !timingSafeEqual(given, token)) {
      throw new ApiError(401, 'unauthorized', 'missing or wrong bearer token (Authorization: Bearer TOKEN)', { 'WWW-Authenticate': 'Bearer' });
    }
  });
  // While closing, each answer ends its connection: a kept-alive socket would hold close() for the keep-alive timeout.
  app.addHook('onSend', async (_req, reply) => { if (closing) void reply.header('Connection', 'close'); });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500 && e.status !== 503 && e.status !== 504) req.log.error({ err }, 'internal error');
    void reply.code(e.status).headers(e.headers).type('application/json').send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(new ApiError(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`)));
  });

  /** Decoded, queued and run: the shared path of both tasks. */
  async function infer(req: FastifyRequest, reply: FastifyReply, inputSize: number | undefined): Promise<{ img: RgbImage; result: DepthMap | Segmentation }> {
    const ticket = queue.admit();
    const deadline = Date.now() + opts.timeoutMs;
    let img: RgbImage;
    const t0 = performance.now();
    try {
      const bytes = await imageBytes(req);
      const { width, height } = await headerSize(bytes);
      if (width * height > opts.maxPixels) throw new ApiError(413, 'too_many_pixels', `the image is ${width}x${height} = ${width * height} pixels, more than this server's --max-pixels ${opts.maxPixels}`);
      img = await decodeImage(bytes, 'request image');
    } catch (e) {
      ticket.release();
      throw e;
    }
    const decode = (performance.now() - t0) / 1000;
    // Batch key: the network input size (what one forward pass needs to share).
    const key = served.task === 'depth' && inputSize !== undefined ? (() => { const t = targetSize(img.width, img.height, inputSize); return `${t.width}x${t.height}`; })() : `${served.task}:${img.width}x${img.height}:${Math.random()}`;
    const { result, stats } = await ticket.run(key, { img, inputSize }, deadline);
    reply.header('Server-Timing', `decode;dur=${ms(decode)}, queue;dur=${ms(stats.queue)}, model;dur=${ms(stats.model)}`);
    reply.header('X-Batch-Size', String(stats.batch));
    return { img, result };
  }

  const depthQuery = {
    type: 'object',
    properties: {
      format: { type: 'string', enum: [...DEPTH_FORMATS], default: 'npy', description: 'npy: float32 [height, width] as predict --format npy; png16, color: as predict writes them; json: sizes, range and the depth as base64 float32' },
      input_size: { type: 'integer', minimum: 14, maximum: 1792, multipleOf: 14, default: 518, description: 'network input lower bound, a multiple of 14' },
    },
    additionalProperties: false,
  } as const;
  const imageBody = {
    description: `the image's bytes (${IMAGE_TYPES.join(', ')}) or multipart/form-data with a file field "image"`,
    content: Object.fromEntries([...IMAGE_TYPES.map((t) => [t, { schema: { type: 'string', format: 'binary' } }]),
      ['multipart/form-data', { schema: { type: 'object', properties: { image: { type: 'string', format: 'binary' } }, required: ['image'] } }]]),
  };
  const errorSchema = { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } };
  const errorResponses = Object.fromEntries(['400', '401', '409', '413', '415', '503', '504'].map((s) => [s, { description: 'error', ...errorSchema }]));

  app.post('/v1/depth', {
    schema: { summary: 'Depth of one image at its own size', querystring: depthQuery, response: { '200': { description: 'depth: application/x-npy, image/png or application/json (see format)' }, ...errorResponses } },
  }, async (req, reply) => {
    if (served.task !== 'depth') throw new ApiError(409, 'wrong_task', 'this server runs a segmentation model: POST /v1/segment');
    const q = req.query as { format: DepthApiFormat; input_size: number };
    const { img, result } = await infer(req, reply, q.input_size);
    const depth = result as DepthMap;
    reply.header('X-Depth-Width', String(depth.width)).header('X-Depth-Height', String(depth.height)).header('X-Depth-Metric', String(depth.metric));
    if (q.format === 'json') {
      let min = Infinity, max = -Infinity;
      for (const v of depth.data) { if (v < min) min = v; if (v > max) max = v; }
      const b64 = Buffer.from(depth.data.buffer, depth.data.byteOffset, depth.data.byteLength).toString('base64');
      return reply.type('application/json').send({ width: depth.width, height: depth.height, metric: depth.metric, min, max, dtype: 'float32', layout: 'row-major [height, width], little-endian', depth: b64 });
    }
    const bytes = await encodeDepthOutput(q.format as OutputFormat, depth, img, { colormap: 'spectral_r', predOnly: true });
    return reply.type(CONTENT_TYPES[q.format]).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

  app.post('/v1/segment', {
    schema: {
      summary: 'Semantic segmentation of one image at its own size',
      querystring: { type: 'object', properties: { format: { type: 'string', enum: [...SEG_OUTPUT_FORMATS], default: 'labels', description: 'labels: class index PNG; color: palette PNG; overlay; npy: logits [K, H, W] float32' } }, additionalProperties: false },
      response: { '200': { description: 'image/png or application/x-npy' }, ...errorResponses },
    },
  }, async (req, reply) => {
    if (served.task !== 'segment') throw new ApiError(409, 'wrong_task', 'this server runs a depth model: POST /v1/depth');
    const { format } = req.query as { format: SegOutputFormat };
    const { img, result } = await infer(req, reply, undefined);
    const seg = result as Segmentation;
    reply.header('X-Seg-Width', String(seg.width)).header('X-Seg-Height', String(seg.height)).header('X-Seg-Classes', String(seg.classes.length));
    const bytes = await encodeSegOutput(format, seg, img);
    return reply.type(CONTENT_TYPES[format]).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

  app.get('/healthz', { schema: { summary: 'The process is alive' } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { summary: 'Model loaded and the queue not full (503 otherwise)' } }, async (_req, reply) => {
    const ready = !closing && !queue.full;
    return reply.code(ready ? 200 : 503).send({ ready, task: served.task, queue: queue.depth, maxQueue: opts.maxQueue, ...(closing ? { closing } : {}) });
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics' } }, async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/openapi.json', { schema: { hide: true } }, async () => {
    const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Record<string, unknown>>> };
    // The raw image body, which fastify's schemas leave out (no JSON validator sees it).
    for (const p of ['/v1/depth', '/v1/segment']) if (doc.paths[p]?.post) doc.paths[p].post.requestBody = imageBody;
    return doc;
  });

  if (opts.demoMounts) {
    const mounts = opts.demoMounts;
    app.get('/*', { schema: { hide: true } }, async (req, reply) => {
      const urlPath = req.url.split('?')[0];
      let file = resolveMount(mounts, urlPath);
      if (file && fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
        if (!urlPath.endsWith('/')) return reply.redirect(urlPath + '/', 301);
        file = path.join(file, 'index.html');
      }
      const st = file ? fs.statSync(file, { throwIfNoEntry: false }) : undefined;
      if (!file || !st?.isFile()) throw new ApiError(404, 'not_found', `not found: ${urlPath}`);
      // Cross-origin isolation for the page's multi-threaded wasm, and validators the page keys its cached weights by (as node/static_server.ts).
      const v = fileValidators(st);
      reply.headers({ 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'credentialless', 'Cross-Origin-Resource-Policy': 'cross-origin', 'Cache-Control': 'no-cache', ETag: v.etag, 'Last-Modified': v.lastModified });
      if (notModified(req.headers, v)) return reply.code(304).send();
      return reply.type(contentType(file)).header('Content-Length', st.size).send(fs.createReadStream(file));
    });
  }

  return {
    app, metrics, queue,
    close: async () => {
      closing = true;
      await app.close(); // stops accepting; waits for the requests in flight
      await queue.drained();
      served.model.dispose();
    },
  };
}

const isApiPath = (url: string) => url.startsWith('/v1/') || url.startsWith('/metrics') || url.startsWith('/openapi.json');

/** Live tensors, for tests and logs. */
export const liveTensors = () => tf.memory().numTensors;
