/**
 * The part of numpy's random generator (numpy 1.24, `np.random.default_rng(seed)`) that the
 * official DA3 RANSAC pose alignment draws from: SeedSequence -> PCG64 (XSL-RR 128/64, with
 * numpy's buffered 32-bit halves), Lemire's bounded integers, and `Generator.choice(a, size,
 * replace=False)` (Floyd's algorithm + shuffle). BigInt for the 128-bit state; bit for bit.
 */

const MASK64 = (1n << 64n) - 1n;
const MASK128 = (1n << 128n) - 1n;
const PCG_MULT = (0x2360ed051fc65da4n << 64n) | 0x4385df649fccf645n;

const mul32 = (a: number, b: number): number => Math.imul(a, b) >>> 0;

/** `SeedSequence(seed).generate_state(nWords, uint32)` for a non-negative integer seed. */
export function seedSequenceState(seed: number, nWords: number): number[] {
  const INIT_A = 0x43b0d7e5, MULT_A = 0x931e8875, INIT_B = 0x8b51f9dd, MULT_B = 0x58f38ded;
  const MIX_L = 0xca01f9dd, MIX_R = 0x4973f715;
  const entropy: number[] = [];
  let s = BigInt(seed);
  if (s === 0n) entropy.push(0);
  while (s > 0n) { entropy.push(Number(s & 0xffffffffn)); s >>= 32n; }
  let hashConst = INIT_A;
  const hashmix = (value: number): number => {
    value = (value ^ hashConst) >>> 0;
    hashConst = mul32(hashConst, MULT_A);
    value = mul32(value, hashConst);
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x: number, y: number): number => {
    const r = (mul32(MIX_L, x) - mul32(MIX_R, y)) >>> 0;
    return (r ^ (r >>> 16)) >>> 0;
  };
  const pool = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) pool[i] = hashmix(i < entropy.length ? entropy[i] : 0);
  for (let src = 0; src < 4; src++) for (let dst = 0; dst < 4; dst++) if (src !== dst) pool[dst] = mix(pool[dst], hashmix(pool[src]));
  for (let src = 4; src < entropy.length; src++) for (let dst = 0; dst < 4; dst++) pool[dst] = mix(pool[dst], hashmix(entropy[src]));
  let hb = INIT_B;
  const out: number[] = [];
  for (let i = 0; i < nWords; i++) {
    let v = (pool[i % 4] ^ hb) >>> 0;
    hb = mul32(hb, MULT_B);
    v = mul32(v, hb);
    out.push((v ^ (v >>> 16)) >>> 0);
  }
  return out;
}

/** numpy's PCG64 bit generator with its 32-bit buffer. */
export class Pcg64 {
  private state = 0n;
  private readonly inc: bigint;
  private hasUint32 = false;
  private uinteger = 0;

  constructor(seed: number) {
    // generate_state(4, uint64): little-endian pairs of uint32 words.
    const w = seedSequenceState(seed, 8).map(BigInt);
    const u64 = [0, 1, 2, 3].map((i) => w[2 * i] | (w[2 * i + 1] << 32n));
    const initState = (u64[0] << 64n) | u64[1];
    const initSeq = (u64[2] << 64n) | u64[3];
    this.inc = ((initSeq << 1n) | 1n) & MASK128;
    this.step();
    this.state = (this.state + initState) & MASK128;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & MASK128;
  }

  next64(): bigint {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & MASK64;
    const rot = Number(s >> 122n);
    return ((x >> BigInt(rot)) | (x << BigInt((64 - rot) & 63))) & MASK64;
  }

  next32(): number {
    if (this.hasUint32) { this.hasUint32 = false; return this.uinteger; }
    const v = this.next64();
    this.hasUint32 = true;
    this.uinteger = Number(v >> 32n);
    return Number(v & 0xffffffffn);
  }

  /** `random_bounded_uint64(0, rng, use_masked=False)` for rng < 2^32: Lemire's method. */
  bounded(rng: number): number {
    if (rng === 0) return 0;
    if (rng > 0xfffffffe) throw new Error('Pcg64.bounded: ranges of 2^32 and more are not needed here');
    const excl = rng + 1;
    let m = BigInt(this.next32()) * BigInt(excl);
    let leftover = Number(m & 0xffffffffn);
    if (leftover < excl) {
      const threshold = (0xffffffff - rng) % excl;
      while (leftover < threshold) {
        m = BigInt(this.next32()) * BigInt(excl);
        leftover = Number(m & 0xffffffffn);
      }
    }
    return Number(m >> 32n);
  }

  /** `Generator.choice(popSize, size, replace=False)` (shuffle=True), populations up to 10000. */
  choiceNoReplace(popSize: number, size: number): number[] {
    if (size > popSize) throw new Error('Cannot take a larger sample than population when replace=False');
    if (popSize > 10000) throw new Error('Pcg64.choiceNoReplace: the tail-shuffle path (populations over 10000) is not needed here');
    // Floyd's algorithm with numpy's open-addressing hash set.
    let mask = 0;
    const setSize = Math.floor(1.2 * size);
    while (mask < setSize) mask = mask * 2 + 1;
    const EMPTY = -1;
    const hash = new Array<number>(mask + 1).fill(EMPTY);
    const idx = new Array<number>(size);
    for (let j = popSize - size; j < popSize; j++) {
      const val = this.bounded(j);
      let loc = val & mask;
      while (hash[loc] !== EMPTY && hash[loc] !== val) loc = (loc + 1) & mask;
      if (hash[loc] === EMPTY) {
        hash[loc] = val;
        idx[j - popSize + size] = val;
      } else {
        // val was drawn before: take j instead (never drawn: j grows), at its own slot.
        loc = j & mask;
        while (hash[loc] !== EMPTY) loc = (loc + 1) & mask;
        hash[loc] = j;
        idx[j - popSize + size] = j;
      }
    }
    // _shuffle_int(size, 1, idx)
    for (let i = size - 1; i >= 1; i--) {
      const j = this.bounded(i);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx;
  }
}
