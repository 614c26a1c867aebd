/**
 * The server's one line to the model: requests wait here (at most `maxQueue`), and those waiting
 * with the same key (the network input size) run together as one batch of up to `maxBatch`, one
 * batch at a time (tfjs runs one graph at a time in a process). Admission is counted from the
 * moment a request is accepted (while its image decodes), so a flood is refused before it costs
 * decoding. A request past its deadline leaves the queue (or, if its batch already runs, gets
 * nothing from it).
 */
import { ApiError } from './errors';

export interface QueueStats {
  /** Seconds waiting before its batch started. */
  queue: number;
  /** Seconds of the batch's model run. */
  model: number;
  /** Size of the batch it ran in. */
  batch: number;
}

interface Waiting<T, R> {
  key: string;
  input: T;
  enqueued: number;
  /** Gives back its place in the queue (idempotent): when its batch starts, or when it ends. */
  release(): void;
  settle(err: unknown, r?: R, stats?: QueueStats): void;
}

export interface InferQueueOptions {
  maxQueue: number;
  maxBatch: number;
  /** Seconds a client is told to wait on 503 (Retry-After). */
  retryAfter?: number;
  /**
   * With batching, how long (ms) a batch that is not full may wait for requests still being
   * decoded (a forward pass blocks the event loop, so the next requests are usually mid-decode
   * when it ends). Default 15.
   */
  batchWindowMs?: number;
  onBatch?: (size: number, seconds: number) => void;
}

export class InferQueue<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private admitted = 0;
  private running = false;
  private windowTimer: NodeJS.Timeout | undefined;
  private idle: Array<() => void> = [];

  constructor(private readonly runBatch: (inputs: T[]) => Promise<R[]>, readonly opts: InferQueueOptions) {}

  /** Requests accepted and not yet in the model (decoding or waiting). */
  get depth(): number { return this.admitted; }
  get full(): boolean { return this.admitted >= this.opts.maxQueue; }

  /** Takes a place in the queue, or refuses with 503 and Retry-After. Call `release` if the request ends before `run`. */
  admit(): { release(): void; run(key: string, input: T, deadline: number): Promise<{ result: R; stats: QueueStats }> } {
    if (this.full) {
      throw new ApiError(503, 'queue_full', `the queue is full (${this.opts.maxQueue} requests waiting); retry later`, { 'Retry-After': String(this.opts.retryAfter ?? 1) });
    }
    this.admitted++;
    let held = true;
    const release = (): void => { if (held) { held = false; this.admitted--; } };
    return {
      release,
      run: (key, input, deadline) => new Promise((resolve, reject) => {
        let done = false;
        let timer: NodeJS.Timeout | undefined;
        const item: Waiting<T, R> = {
          key, input, enqueued: performance.now(), release,
          settle: (err, r, stats) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            release();
            if (err) reject(err); else resolve({ result: r as R, stats: stats! });
          },
        };
        const left = deadline - Date.now();
        const timeout = (): void => {
          const i = this.waiting.indexOf(item);
          if (i >= 0) this.waiting.splice(i, 1);
          item.settle(new ApiError(504, 'timeout', `no result within the server's timeout (${i >= 0 ? 'still queued' : 'the model was still running'})`));
        };
        if (left <= 0) return timeout();
        timer = setTimeout(timeout, left);
        this.waiting.push(item);
        this.pump();
      }),
    };
  }

  /** Resolves when nothing waits or runs. */
  drained(): Promise<void> {
    if (!this.running && !this.waiting.length) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    if (this.running) return;
    if (!this.waiting.length) {
      for (const f of this.idle.splice(0)) f();
      return;
    }
    const key = this.waiting[0].key;
    const window = this.opts.batchWindowMs ?? 15;
    const decoding = this.admitted - this.waiting.length;
    const sameKey = this.waiting.filter((w) => w.key === key).length;
    const waited = performance.now() - this.waiting[0].enqueued;
    if (this.opts.maxBatch > 1 && sameKey < this.opts.maxBatch && decoding > 0 && waited < window) {
      if (!this.windowTimer) this.windowTimer = setTimeout(() => { this.windowTimer = undefined; this.pump(); }, window - waited);
      return;
    }
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    const batch: Waiting<T, R>[] = [];
    this.waiting = this.waiting.filter((w) => {
      if (w.key !== key || batch.length >= this.opts.maxBatch) return true;
      batch.push(w);
      return false;
    });
    for (const w of batch) w.release();
    this.running = true;
    void this.runOne(batch).finally(() => {
      this.running = false;
      // Let the event loop answer and accept between batches.
      setImmediate(() => this.pump());
    });
  }

  private async runOne(batch: Waiting<T, R>[]): Promise<void> {
    const t0 = performance.now();
    try {
      const results = await this.runBatch(batch.map((w) => w.input));
      const model = (performance.now() - t0) / 1000;
      this.opts.onBatch?.(batch.length, model);
      batch.forEach((w, k) => w.settle(null, results[k], { queue: (t0 - w.enqueued) / 1000, model, batch: batch.length }));
    } catch (e) {
      if (batch.length === 1) {
        batch[0].settle(e);
        return;
      }
      // One bad input must not fail the others: run them one by one.
      for (const w of batch) await this.runOne([w]);
    }
  }
}
