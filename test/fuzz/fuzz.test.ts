/**
 * Fuzz corpus: seeded mutants of the fixture checkpoints (see mutants.ts) through loadWeightsFile
 * and `convert`. Each must be refused with one of the library's errors, in one line naming the
 * file, with no output left behind, or load and convert to exactly the original's tensors (the
 * mutation hit bytes nobody reads: padding, timestamps, an entry never read).
 *
 *   npx jest test/fuzz                                # FUZZ_N mutants, default 70 (CI, ~10 s)
 *   FUZZ_N=1000 npx jest test/fuzz                    # on demand
 *   FUZZ_SEED=123 FUZZ_N=1 npx jest test/fuzz         # replay one seed
 */
import * as os from 'os';
import * as path from 'path';
import { readFileSync, promises as fs } from 'fs';
import { main } from '../../src/cli/main';
import { loadWeightsFile, LoadedWeights } from '../../src/node/weights_file';
import { parseSafetensors, ParsedSafetensors, SafetensorsError } from '../../src/io/safetensors';
import { TorchCheckpointError } from '../../src/weights/torch_zip';
import { ZipError } from '../../src/io/zip';
import { PickleError } from '../../src/io/pickle';
import { WeightsError } from '../../src/weights/state_dict';
import { ConfigError } from '../../src/config/depth';
import { CorpusFile, mutantFor } from './mutants';
import { wholeNumberFromEnv } from '../env';

const PARITY = path.resolve(__dirname, '../../../shared/fixtures/parity');
const fx = (c: string, f: string) => path.join(PARITY, c, f);

/** The corpus: every checkpoint format the library reads (`.pth`, the V1 metric `.pt`, safetensors, HF). */
const CORPUS: CorpusFile[] = [
  ...['v1-metric-indoor-tiny', 'v1-metric-normed-tiny'].map((c): CorpusFile => ({ name: `${c}/weights.pt`, kind: 'pth', path: fx(c, 'weights.pt'), config: fx(c, 'config.json'), tensorsFrom: fx(c, 'weights.safetensors') })),
  ...['v2-tiny', 'v1-tiny', 'v2-tiny-metric', 'v2-tiny-giantlike'].map((c): CorpusFile => (
    { name: `${c}/weights.pth`, kind: 'pth', path: fx(c, 'weights.pth'), config: fx(c, 'config.json'), tensorsFrom: fx(c, 'weights.safetensors') })),
  ...['v2-tiny', 'v1-tiny'].map((c): CorpusFile => (
    { name: `${c}/weights.safetensors`, kind: 'safetensors', path: fx(c, 'weights.safetensors'), config: fx(c, 'config.json') })),
  { name: 'v2-tiny/weights-hf.safetensors', kind: 'safetensors', path: fx('v2-tiny', 'weights-hf.safetensors'), hfConfig: fx('v2-tiny', 'hf-config.json') },
];

const LIBRARY_ERRORS = [ZipError, TorchCheckpointError, PickleError, SafetensorsError, WeightsError, ConfigError];
const N = wholeNumberFromEnv('FUZZ_N', 70, 1, 'the number of mutants checked');
const FIRST_SEED = wholeNumberFromEnv('FUZZ_SEED', 1, 0, 'the first seed');

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fuzz-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const originals = new Map<string, Uint8Array>();
const original = (f: CorpusFile) => {
  if (!originals.has(f.path)) originals.set(f.path, new Uint8Array(readFileSync(f.path)));
  return originals.get(f.path)!;
};
const tensorSets = new Map<string, ParsedSafetensors>();
const tensors = (f: CorpusFile) => {
  if (!f.tensorsFrom) return undefined;
  if (!tensorSets.has(f.tensorsFrom)) tensorSets.set(f.tensorsFrom, parseSafetensors(readFileSync(f.tensorsFrom), f.tensorsFrom));
  return tensorSets.get(f.tensorsFrom);
};
const loadOpts = (f: CorpusFile) => ({ config: f.config, hfConfig: f.hfConfig });
const convertArgs = (f: CorpusFile) => [...(f.config ? ['--config', f.config] : []), ...(f.hfConfig ? ['--hf-config', f.hfConfig] : [])];

/** The original's loaded tensors and converted output, the reference every "identical" mutant must equal. */
const references = new Map<string, { loaded: LoadedWeights; converted: ParsedSafetensors }>();
async function reference(f: CorpusFile) {
  const hit = references.get(f.path);
  if (hit) return hit;
  const loaded = await loadWeightsFile(f.path, loadOpts(f));
  const out = path.join(dir, `reference-${references.size}.safetensors`);
  await quietly(() => main(['node', 'depth-anything', 'convert', f.path, out, ...convertArgs(f)]));
  const converted = parseSafetensors(await fs.readFile(out), out);
  await fs.rm(out);
  const ref = { loaded, converted };
  references.set(f.path, ref);
  return ref;
}

async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const spy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try { return await fn(); } finally { spy.mockRestore(); }
}

const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Why `got` differs from `want` (names, shapes, bytes, config), or undefined when identical. */
function loadedDiffers(got: LoadedWeights, want: LoadedWeights): string | undefined {
  if (JSON.stringify([...got.stateDict.keys()]) !== JSON.stringify([...want.stateDict.keys()])) return 'tensor names differ';
  for (const [k, w] of want.stateDict) {
    const g = got.stateDict.get(k)!;
    if (JSON.stringify(g.shape) !== JSON.stringify(w.shape)) return `${k}: shape [${g.shape}] vs [${w.shape}]`;
    if (!sameBytes(g.data, w.data)) return `${k}: values differ`;
  }
  if (JSON.stringify(got.config) !== JSON.stringify(want.config)) return 'configuration differs';
  return undefined;
}

function convertedDiffers(got: ParsedSafetensors, want: ParsedSafetensors): string | undefined {
  if (JSON.stringify([...got.tensors.keys()]) !== JSON.stringify([...want.tensors.keys()])) return 'converted tensor names differ';
  for (const [k, w] of want.tensors) {
    const g = got.tensors.get(k)!;
    if (g.dtype !== w.dtype || JSON.stringify(g.shape) !== JSON.stringify(w.shape) || !sameBytes(g.bytes, w.bytes)) return `converted ${k} differs`;
  }
  if (got.metadata.config !== want.metadata.config) return 'converted configuration differs';
  return undefined;
}

/** A refusal that meets the rule: a library error, one line, naming the file. */
function badRefusal(e: unknown, file: string): string | undefined {
  if (!LIBRARY_ERRORS.some((c) => e instanceof c)) return `not a library error: ${(e as Error)?.name}: ${(e as Error)?.message}`;
  const msg = (e as Error).message;
  if (msg.includes('\n')) return `message spans lines: ${JSON.stringify(msg)}`;
  if (!msg.includes(file)) return `message does not name the file: ${msg}`;
  return undefined;
}

type Outcome = 'refused' | 'identical';

async function check(seed: number): Promise<{ outcome: Outcome; key: string }> {
  const { file, mutant } = mutantFor(seed, CORPUS, original, tensors);
  const ext = file.kind === 'pth' ? 'pth' : 'safetensors';
  const input = path.join(dir, `seed-${seed}.${ext}`);
  const outDir = path.join(dir, `out-${seed}`);
  const output = path.join(outDir, 'converted.safetensors');
  const where = `seed ${seed}: ${file.name}, ${mutant.kind} (${mutant.detail})`;
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}\n  replay: FUZZ_SEED=${seed} FUZZ_N=1 npx jest test/fuzz`);
  };
  await fs.writeFile(input, mutant.bytes);
  await fs.mkdir(outDir);
  try {
    const ref = await reference(file);
    let loaded: LoadedWeights | undefined;
    let loadError: unknown;
    try { loaded = await loadWeightsFile(input, loadOpts(file)); } catch (e) { loadError = e; }

    let convertError: unknown;
    try {
      await quietly(() => main(['node', 'depth-anything', 'convert', input, output, ...convertArgs(file)]));
    } catch (e) { convertError = e; }
    const left = await fs.readdir(outDir);

    if (loaded) {
      const why = loadedDiffers(loaded, ref.loaded);
      if (why) fail(`loaded without complaint but ${why}`);
      if (convertError) fail(`loads identically but convert refused it: ${(convertError as Error).message}`);
      const conv = convertedDiffers(parseSafetensors(await fs.readFile(output), output), ref.converted);
      if (conv) fail(`converted without complaint but ${conv}`);
      return { outcome: 'identical', key: `${file.kind} ${mutant.kind}` };
    }
    const why = badRefusal(loadError, input);
    if (why) fail(`loadWeightsFile: ${why}`);
    if (!convertError) fail(`loadWeightsFile refused it (${(loadError as Error).message}) but convert wrote ${output}`);
    const whyConvert = badRefusal(convertError, input);
    if (whyConvert) fail(`convert: ${whyConvert}`);
    if (left.length) fail(`convert refused it but left ${left.join(', ')} behind`);
    return { outcome: 'refused', key: `${file.kind} ${mutant.kind}` };
  } finally {
    await fs.rm(input, { force: true });
    await fs.rm(outDir, { recursive: true, force: true });
  }
}

describe(`fuzz: ${N} mutants from seed ${FIRST_SEED}`, () => {
  it('every mutant is refused clearly or loads and converts to the original tensors', async () => {
    const counts: Record<string, Record<Outcome, number>> = {};
    for (let seed = FIRST_SEED; seed < FIRST_SEED + N; seed++) {
      const { outcome, key } = await check(seed);
      counts[key] ??= { refused: 0, identical: 0 };
      counts[key][outcome]++;
    }
    const total = Object.values(counts).reduce((a, c) => ({ refused: a.refused + c.refused, identical: a.identical + c.identical }), { refused: 0, identical: 0 });
    const lines = Object.entries(counts).sort().map(([k, c]) => `  ${k}: ${c.refused} refused, ${c.identical} identical`);
    console.log(`fuzz, seeds ${FIRST_SEED}..${FIRST_SEED + N - 1}: ${total.refused} refused, ${total.identical} identical, 0 other\n${lines.join('\n')}`);
    expect(total.refused + total.identical).toBe(N);
  });
});
