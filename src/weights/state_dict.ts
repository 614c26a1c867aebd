/**
 * A checkpoint as the official code sees it: official key names (`pretrained.blocks.0.attn.qkv.weight`)
 * to float32 data in PyTorch shapes. Every reader (.pth, Hugging Face, our safetensors) produces one.
 */
export interface RawTensor {
  shape: number[];
  data: Float32Array;
  /**
   * Set by the trainer (src/train/params.ts): the parameter as a tf.Variable in this shape, which
   * the loaders use instead of `data` so the bound weights are differentiable functions of it.
   */
  tensor?: import('@tensorflow/tfjs-core').Tensor;
  /** Set when the file stored it as int8 (src/weights/q8.ts): `data` is the dequantised kernel. */
  storedAs?: 'int8';
}

export type StateDict = Map<string, RawTensor>;

export class WeightsError extends Error {
  constructor(message: string) { super(message); this.name = 'WeightsError'; }
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Strict binding: `take` each expected key with its expected shape, then `finish()` throws one
 * error listing every missing, wrong-shape and unexpected key, so a user sees the whole mismatch
 * at once instead of the first key that failed.
 */
export class StateDictReader {
  private readonly consumed = new Set<string>();
  private readonly missing: string[] = [];
  private readonly wrongShape: string[] = [];

  constructor(readonly dict: StateDict, readonly source: string) {}

  has(key: string): boolean {
    return this.dict.has(key);
  }

  /** Returns the tensor, or zeros of the expected shape after noting the problem for `finish()`. */
  take(key: string, shape: readonly number[]): RawTensor {
    this.consumed.add(key);
    const t = this.dict.get(key);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!t) {
      this.missing.push(`${key} (expected ${fmt(shape)})`);
      return { shape: [...shape], data: new Float32Array(n) };
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      this.wrongShape.push(`${key}: ${fmt(t.shape)}, expected ${fmt(shape)}`);
      return { shape: [...shape], data: new Float32Array(n) };
    }
    return t;
  }

  /** Takes `key` if the checkpoint has it (optional parameters such as a conv bias). */
  takeOptional(key: string, shape: readonly number[]): RawTensor | undefined {
    return this.dict.has(key) ? this.take(key, shape) : undefined;
  }

  /**
   * Throws if anything was missing, mis-shaped, or left over. `ignore` lists keys the official
   * checkpoints carry but the forward pass never reads.
   */
  finish(ignore: readonly RegExp[]): void {
    const unexpected = [...this.dict.keys()].filter((k) => !this.consumed.has(k) && !ignore.some((re) => re.test(k)));
    if (!this.missing.length && !this.wrongShape.length && !unexpected.length) return;
    // One problem (a missing or mis-shaped tensor): one line.
    const single = [...this.missing.map((k) => `missing key ${k}`), ...this.wrongShape.map((k) => `key with the wrong shape: ${k}`), ...unexpected.map((k) => `unexpected key ${k}`)];
    if (single.length === 1) throw new WeightsError(`${this.source}: weights do not match the model configuration: ${single[0]}`);
    const parts: string[] = [];
    const list = (title: string, keys: string[]) => {
      if (!keys.length) return;
      const shown = keys.slice(0, 40).map((k) => `  ${k}`);
      if (keys.length > 40) shown.push(`  ... and ${keys.length - 40} more`);
      parts.push(`${title} (${keys.length}):\n${shown.join('\n')}`);
    };
    list('missing keys', this.missing);
    list('keys with the wrong shape', this.wrongShape);
    list('unexpected keys', unexpected);
    throw new WeightsError(`${this.source}: weights do not match the model configuration\n${parts.join('\n')}`);
  }
}
