/**
 * Prometheus metrics (prom-client) on a registry of the server's own, so two servers in one
 * process (tests) do not share counters: requests by route and status, latency, queue depth,
 * batch sizes, model seconds, live tfjs tensors, and the process's own (RSS, heap, event loop).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServiceMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  latency: Histogram<'route'>;
  batchSize: Histogram;
  modelSeconds: Histogram;
}

export function createMetrics(queueDepth: () => number, maxBatch: number): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry }); // process_resident_memory_bytes, heap, event-loop lag: the standard names
  const requests = new Counter({ name: 'depth_anything_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] as const, registers: [registry] });
  const latency = new Histogram({
    name: 'depth_anything_http_request_duration_seconds', help: 'Time from request to response', labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'depth_anything_batch_size', help: 'Images per model run',
    buckets: [...new Set([1, 2, 4, 8, 16, maxBatch])].filter((b) => b <= Math.max(1, maxBatch)).sort((a, b) => a - b), registers: [registry],
  });
  const modelSeconds = new Histogram({
    name: 'depth_anything_model_seconds', help: 'Seconds per model run (one batch)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  });
  new Gauge({ name: 'depth_anything_queue_depth', help: 'Requests accepted and not yet in the model', registers: [registry], collect() { this.set(queueDepth()); } });
  new Gauge({ name: 'depth_anything_tfjs_tensors', help: 'Live tfjs tensors (flat between requests: no leak)', registers: [registry], collect() { this.set(tf.memory().numTensors); } });
  return { registry, requests, latency, batchSize, modelSeconds };
}
