/**
 * Official PyTorch checkpoints (`torch.save` zip format, PyTorch >= 1.6): `<top>/data.pkl` builds
 * a dict of tensors whose storages are the raw little-endian entries `<top>/data/<key>`.
 * Only the globals a state dict needs are allowed (see ALLOWED); tensors are rebuilt from storage,
 * offset and strides. Float32 tensors that are contiguous are views into the storage bytes read
 * from the zip, so the checkpoint is held in memory once.
 */
import type { ZipSource } from '../io/zip_bytes';
import { unpickle, PyCallable, PyOpaque, isTuple } from '../io/pickle';
import { LITTLE_ENDIAN, f16ToF32, bf16ToF32 } from '../io/half';
import { StateDict } from './state_dict';

export class TorchCheckpointError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'TorchCheckpointError';
  }
}

export type StorageDtype = 'float32' | 'float16' | 'bfloat16' | 'int64';

/** torch storage classes we accept, by their pickled name. */
const STORAGE_CLASSES: Record<string, { dtype: StorageDtype; itemBytes: number }> = {
  FloatStorage: { dtype: 'float32', itemBytes: 4 },
  HalfStorage: { dtype: 'float16', itemBytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', itemBytes: 2 },
  // Only for constant buffers inference never reads (BatchNorm's `num_batches_tracked`, ZoeDepth's `k_idx`).
  LongStorage: { dtype: 'int64', itemBytes: 8 },
};

const ALLOWED = [
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_CLASSES).map((s) => `torch.${s}`),
];

/**
 * Globals of the training state mmengine saves next to `state_dict` (`message_hub`: HistoryBuffer
 * objects holding numpy arrays; `optimizer`, `param_schedulers`: tensors and builtins). They become
 * inert stand-ins (PyOpaque), never run; a state dict entry that is one is still an error.
 */
const TRAINING_STATE_GLOBALS = new Set([
  'mmengine.logging.history_buffer.HistoryBuffer',
  'numpy.core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
  '__builtin__.getattr',
  'builtins.getattr',
]);

interface StorageType { kind: 'storageType'; name: string; dtype: StorageDtype; itemBytes: number }
interface StorageRef { kind: 'storage'; type: StorageType; key: string; numel: number }
interface TensorRef { kind: 'tensor'; storage: StorageRef; offset: number; shape: number[]; stride: number[] }

export interface TorchCheckpoint {
  stateDict: StateDict;
  /** Storage dtypes seen among the kept tensors (e.g. {'float32'}). */
  dtypes: Set<StorageDtype>;
  /** Keys left out on purpose (`num_batches_tracked`, `k_idx`). */
  skipped: string[];
  /** mmengine's `meta` beside `state_dict` (dicts as Maps, tuples as frozen arrays), when present. */
  meta?: unknown;
}

/** float16 bits -> float32, all 65536 values: a table lookup is ~20x faster than decoding each. */
let halfTable: Float32Array | undefined;
const halfToFloat = (): Float32Array => {
  if (!halfTable) halfTable = Float32Array.from({ length: 65536 }, (_, h) => f16ToF32(h));
  return halfTable;
};

/** Pickled values for messages: ints past 2^53 unpickle as BigInt, which JSON.stringify refuses. */
const show = (v: unknown): string => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);

const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function callable(pyName: string, call: (args: readonly unknown[]) => unknown): PyCallable {
  return { pyName, call };
}

/** The unpickler's globals: the allowlist, or an error that names the refused global. */
function findClass(source: string) {
  return (module: string, name: string): unknown => {
    const full = `${module}.${name}`;
    const bad = (detail: string): never => { throw new TorchCheckpointError(source, detail); };
    if (module === 'torch' && /Storage$/.test(name)) {
      const s = STORAGE_CLASSES[name];
      if (!s) bad(`unknown storage type ${full}: only ${Object.keys(STORAGE_CLASSES).map((k) => `torch.${k}`).join(', ')} are supported`);
      return { kind: 'storageType', name: full, ...s } satisfies StorageType;
    }
    if (TRAINING_STATE_GLOBALS.has(full)) return new PyOpaque(full);
    switch (full) {
      case 'collections.OrderedDict':
        return callable(full, (args) => {
          if (args.length) bad('collections.OrderedDict called with arguments; only OrderedDict() is expected');
          return new Map();
        });
      case 'torch._utils._rebuild_tensor_v2':
        return callable(full, (args) => rebuildTensor(source, args));
      case 'torch._utils._rebuild_parameter':
        return callable(full, (args) => {
          if (!(args[0] as TensorRef | undefined)?.kind) bad('torch._utils._rebuild_parameter without a tensor');
          return args[0];
        });
      default:
        return bad(`refusing to load: the pickle names the global ${full}, which a state dict never needs ` +
          `(allowed: ${ALLOWED.join(', ')}). Only load checkpoints from sources you trust.`);
    }
  };
}

function rebuildTensor(source: string, args: readonly unknown[]): TensorRef {
  const [storage, offset, size, stride] = args as [StorageRef, unknown, unknown, unknown];
  const bad = (detail: string): never => { throw new TorchCheckpointError(source, `_rebuild_tensor_v2: ${detail}`); };
  if (args.length < 4) bad(`expected at least 4 arguments, got ${args.length}`);
  if (storage?.kind !== 'storage') bad('first argument is not a storage');
  if (!isNat(offset)) bad(`storage offset ${String(offset)} is not a non-negative integer`);
  if (!isTuple(size) || !size.every(isNat)) bad(`size ${show(size)} is not a tuple of non-negative integers`);
  if (!isTuple(stride) || !stride.every(isNat) || (stride as unknown[]).length !== (size as unknown[]).length) {
    bad(`stride ${show(stride)} does not match size ${show(size)}`);
  }
  return { kind: 'tensor', storage, offset: offset as number, shape: [...(size as number[])], stride: [...(stride as number[])] };
}

function persistentLoad(source: string) {
  return (pid: unknown): StorageRef => {
    const bad = (detail: string): never => { throw new TorchCheckpointError(source, `persistent id ${detail}`); };
    if (!isTuple(pid) || pid[0] !== 'storage' || pid.length !== 5) bad(`${show(pid)} is not ('storage', type, key, location, numel)`);
    const [, type, key, , numel] = pid as readonly unknown[];
    if ((type as StorageType | undefined)?.kind !== 'storageType') bad(`names no storage type`);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) bad(`has a bad storage key ${show(key)}`);
    if (!isNat(numel)) bad(`has a bad element count ${String(numel)}`);
    return { kind: 'storage', type: type as StorageType, key: key as string, numel: numel as number };
  };
}

const isTensorRef = (v: unknown): v is TensorRef => (v as TensorRef | null)?.kind === 'tensor';

/**
 * Finds the state dict: the root dict, or one wrapped in `model` / `state_dict`; strips a
 * `module.` prefix (DataParallel) when every key has it.
 */
function unwrapStateDict(source: string, root: unknown): Map<string, TensorRef> {
  let d = root;
  for (let depth = 0; depth < 3 && d instanceof Map; depth++) {
    if ([...d.values()].some(isTensorRef)) break;
    const inner = d.get('state_dict') ?? d.get('model');
    if (!(inner instanceof Map)) break;
    d = inner;
  }
  if (!(d instanceof Map)) throw new TorchCheckpointError(source, 'the pickle holds no dict of tensors (a state dict was expected)');
  const entries = [...d.entries()];
  if (!entries.some(([, v]) => isTensorRef(v))) {
    const keys = entries.slice(0, 10).map(([k]) => String(k)).join(', ');
    throw new TorchCheckpointError(source, `no tensors found; top-level keys: ${keys || '(none)'}`);
  }
  const strip = entries.every(([k]) => typeof k === 'string' && k.startsWith('module.'));
  const out = new Map<string, TensorRef>();
  for (const [k, v] of entries) {
    if (typeof k !== 'string') throw new TorchCheckpointError(source, `state dict key ${String(k)} is not a string`);
    if (!isTensorRef(v)) {
      const what = v instanceof PyOpaque ? ` but a ${v.pyName} object (training state is allowed only outside the state dict)` : '';
      throw new TorchCheckpointError(source, `state dict entry "${k}" is not a tensor${what}`);
    }
    out.set(strip ? k.slice('module.'.length) : k, v);
  }
  return out;
}

/** The tensor's values as float32, a view when the storage layout allows it. */
function materialize(source: string, name: string, t: TensorRef, bytes: Uint8Array): Float32Array {
  const { type, numel: storageNumel } = t.storage;
  const n = t.shape.reduce((a, b) => a * b, 1);
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.stride[i];
  if (n > 0 && last >= storageNumel) {
    throw new TorchCheckpointError(source, `tensor "${name}" [${t.shape.join(', ')}] at offset ${t.offset} with strides [${t.stride.join(', ')}] ` +
      `reaches element ${last}, past the end of its storage data/${t.storage.key} (${storageNumel} elements)`);
  }
  // Row-major contiguous strides let the tensor be one run of elements from `offset`.
  let contiguous = true;
  for (let i = t.shape.length - 1, s = 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== s) contiguous = false;
    s *= t.shape[i];
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = type.dtype === 'float16' ? halfToFloat() : undefined;
  const read = type.dtype === 'float32' ? (i: number) => dv.getFloat32(i * 4, true)
    : table ? (i: number) => table[dv.getUint16(i * 2, true)]
      : (i: number) => bf16ToF32(dv.getUint16(i * 2, true));
  if (contiguous && type.dtype === 'float32' && LITTLE_ENDIAN && (bytes.byteOffset + t.offset * 4) % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset + t.offset * 4, n);
  }
  const out = new Float32Array(n);
  if (contiguous && table && LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset + t.offset * 2, n);
    for (let i = 0; i < n; i++) out[i] = table[h[i]];
    return out;
  }
  if (contiguous) {
    for (let i = 0; i < n; i++) out[i] = read(t.offset + i);
    return out;
  }
  const idx = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = t.offset;
    for (let d = 0; d < idx.length; d++) src += idx[d] * t.stride[d];
    out[i] = read(src);
    for (let d = idx.length - 1; d >= 0 && ++idx[d] === t.shape[d]; d--) idx[d] = 0;
  }
  return out;
}

/**
 * torch.save puts every entry in one folder (`archive/`, or the file's stem); anything outside
 * it is not part of the checkpoint: a damaged name or a tampered archive.
 */
function checkOneFolder(source: string, prefix: string, names: string[]): void {
  const outside = names.filter((n) => !n.startsWith(prefix));
  if (outside.length) {
    const shown = outside.slice(0, 3).map((n) => `"${n}"`).join(', ');
    throw new TorchCheckpointError(source, `zip entr${outside.length > 1 ? 'ies' : 'y'} ${shown}${outside.length > 3 ? ` and ${outside.length - 3} more` : ''} outside the checkpoint's folder "${prefix}" (damaged or not written by torch.save)`);
  }
}

/** Tensor names by storage key, so an error about a storage entry can say whose bytes it holds. */
function tensorsByStorage(refs: Map<string, TensorRef>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, t] of refs) {
    const list = out.get(t.storage.key);
    if (list) list.push(name);
    else out.set(t.storage.key, [name]);
  }
  return out;
}

const describeHolders = (names: string[]): string =>
  `storage of ${names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more tensors` : names.join(', ')}`;

/**
 * The entries the tensors did not need (`version`, int64 `num_batches_tracked` storages, ...)
 * are small; they are read and verified too, so a file with any damaged entry is refused.
 */
async function verifyUnread(zip: ZipSource, read: string[], prefix: string, holders: Map<string, string[]>): Promise<void> {
  const done = new Set(read);
  for (const { name } of zip.entries()) {
    if (done.has(name)) continue;
    const key = name.startsWith(`${prefix}data/`) ? name.slice(`${prefix}data/`.length) : undefined;
    await zip.read(name, key !== undefined && holders.has(key) ? describeHolders(holders.get(key)!) : undefined);
  }
}

/** Reads a `torch.save` zip checkpoint into a StateDict (official names, float32). */
export async function readTorchCheckpoint(path: string, inMemory?: ZipSource): Promise<TorchCheckpoint> {
  // A zip already in memory (a page), or the file through yauzl (Node; loaded on demand so the
  // browser bundle does not carry it).
  const zip: ZipSource = inMemory ?? (await (await import('../io/zip')).ZipArchive.open(path));
  try {
    const pkls = zip.entries().map((e) => e.name).filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) {
      throw new TorchCheckpointError(path, `expected one <folder>/data.pkl in the zip, found ${pkls.length ? pkls.join(', ') : 'none'} (not a torch.save checkpoint?)`);
    }
    const prefix = pkls[0].slice(0, -'data.pkl'.length);
    checkOneFolder(path, prefix, zip.entries().map((e) => e.name));
    if (zip.has(`${prefix}byteorder`)) {
      const order = new TextDecoder().decode(await zip.read(`${prefix}byteorder`, 'the byte order')).trim();
      if (order !== 'little') throw new TorchCheckpointError(path, `byte order "${order}" is not supported (only little-endian checkpoints)`);
    }
    const pklSource = `${path} (${pkls[0]})`;
    const root = unpickle(await zip.read(pkls[0], 'the pickled state dict'), {
      source: pklSource,
      findClass: findClass(pklSource),
      persistentLoad: persistentLoad(pklSource),
    });
    const refs = unwrapStateDict(pklSource, root);
    const holders = tensorsByStorage(refs);
    const meta = root instanceof Map && root.has('state_dict') ? root.get('meta') : undefined;
    const storages = new Map<string, Uint8Array>();
    const stateDict: StateDict = new Map();
    const dtypes = new Set<StorageDtype>();
    const skipped: string[] = [];
    for (const [name, t] of refs) {
      const { type, key, numel } = t.storage;
      if (type.dtype === 'int64') {
        // ZoeDepth's log-binomial `k_idx` is arange(n_bins), rebuilt by the layer.
        if (!/(^|\.)(num_batches_tracked|log_binomial_transform\.k_idx)$/.test(name)) {
          throw new TorchCheckpointError(path, `tensor "${name}" is int64 (${type.name}); only floating-point weights are expected`);
        }
        skipped.push(name);
        continue;
      }
      let bytes = storages.get(key);
      if (!bytes) {
        const entry = `${prefix}data/${key}`;
        const size = zip.size(entry);
        if (size === undefined) throw new TorchCheckpointError(path, `tensor "${name}" refers to storage ${entry}, which the zip lacks`);
        if (size !== numel * type.itemBytes) {
          throw new TorchCheckpointError(path, `storage ${entry} is ${size} bytes, but the pickle declares ${numel} ${type.dtype} elements (${numel * type.itemBytes} bytes)`);
        }
        bytes = await zip.read(entry, describeHolders(holders.get(key) ?? []));
        storages.set(key, bytes);
      }
      stateDict.set(name, { shape: t.shape, data: materialize(path, name, t, bytes) });
      dtypes.add(type.dtype);
    }
    await verifyUnread(zip, [pkls[0], `${prefix}byteorder`, ...[...storages.keys()].map((k) => `${prefix}data/${k}`)], prefix, holders);
    return { stateDict, dtypes, skipped, ...(meta !== undefined ? { meta } : {}) };
  } finally {
    zip.close();
  }
}
