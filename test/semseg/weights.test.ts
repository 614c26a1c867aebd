/**
 * Reading segmentation checkpoints: the mmengine .pth (meta + state_dict) equals the safetensors;
 * training state beside the state dict (mmengine MessageHub with HistoryBuffer objects and numpy
 * arrays) is read as inert stand-ins, never run; the same objects inside the state dict, or any
 * other global, are an error; a depth model given to segment and a segmentation model given to
 * predict each fail with one clear line.
 */
import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { readTorchCheckpoint } from '../../src/weights/torch_zip';
import { loadWeightsFile } from '../../src/node/weights_file';
import { loadSegWeightsFile, isSegWeightsFile } from '../../src/node/seg_weights';
import { PickleWriter, f32Bytes, stateDictPickle, torchZip, writeFile } from '../io/torch_writer';
import { SEG_FIXTURES } from './parity_suite';
import { runCli } from '../cli/run_cli';

const TINY = path.join(SEG_FIXTURES, 'seg-tiny');
let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'seg-weights-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

describe('the fixture checkpoints', () => {
  it('weights.pth (mmengine save_checkpoint) equals weights.safetensors, and carries the class names and palette', async () => {
    const pth = await loadSegWeightsFile(path.join(TINY, 'weights.pth'), { config: path.join(TINY, 'config.json') });
    const st = await loadSegWeightsFile(path.join(TINY, 'weights.safetensors'), { config: path.join(TINY, 'config.json') });
    expect([...pth.stateDict.keys()].sort()).toEqual([...st.stateDict.keys()].sort());
    for (const [k, t] of st.stateDict) expect(Buffer.from(pth.stateDict.get(k)!.data.buffer, pth.stateDict.get(k)!.data.byteOffset, t.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    expect(pth.metainfoFrom).toBe('checkpoint meta.dataset_meta');
    expect(pth.metainfo.classes).toEqual(['wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road']);
    expect(pth.metainfo.palette[2]).toEqual([6, 230, 230]);
    expect(pth.config.head).toMatchObject({ numClasses: 7, numQueries: 10, featChannels: 32 });
    expect(pth.config.backbone).toMatchObject({ embedDim: 32, depth: 8, numHeads: 2, intermediateLayers: [4, 5, 6, 7] });
    expect(await isSegWeightsFile(path.join(TINY, 'weights.pth'))).toBe(true);
    expect(await isSegWeightsFile(path.join(TINY, 'weights.safetensors'))).toBe(true);
  });

  it('without a config, a non-official size says which flag settles it', async () => {
    await expect(loadSegWeightsFile(path.join(TINY, 'weights.pth'))).rejects.toThrow(/not an official release name, 7 classes\); pass --config FILE/);
  });
});

/** numpy.ndarray of float64 as pickled at protocol 2: _reconstruct + BUILD (with _codecs.encode bytes). */
function ndarray(w: PickleWriter): void {
  w.global('numpy.core.multiarray', '_reconstruct').global('numpy', 'ndarray').int(0).op(0x85)
    .global('_codecs', 'encode').str('b').str('latin1').op(0x86).reduce().op(0x87).reduce();
  w.mark().int(1).int(2).op(0x85).global('numpy', 'dtype').str('f8').bool(false).bool(true).op(0x87).reduce()
    .mark().int(3).str('<').op(0x4e).op(0x4e).op(0x4e).int(-1 & 0xff).int(-1 & 0xff).int(0).tuple().op(0x62)
    .bool(false).global('_codecs', 'encode').str('\u0000'.repeat(16)).str('latin1').op(0x86).reduce().tuple().op(0x62);
}

/** mmengine HistoryBuffer at protocol 2: NEWOBJ, then BUILD with its __dict__. */
function historyBuffer(w: PickleWriter): void {
  w.global('mmengine.logging.history_buffer', 'HistoryBuffer').emptyTuple().op(0x81)
    .emptyDict().str('_log_history');
  ndarray(w);
  w.op(0x73).str('max_length').int(100).op(0x73).op(0x62);
}

/** {'state_dict': OrderedDict(w), 'message_hub': {'log_scalars': {'train/loss': HistoryBuffer}}, 'meta': {...}}. */
function trainingCheckpoint(opts: { bufferInStateDict?: boolean; extraGlobal?: [string, string] } = {}): Uint8Array {
  const sd = stateDictPickle([{ name: 'decode_head.x', storage: 'FloatStorage', key: '0', numel: 2, shape: [2] }], { wrap: 'state_dict' });
  const w = new PickleWriter();
  const body = Array.from(sd.subarray(0, sd.length - 1)); // without STOP
  if (opts.bufferInStateDict) {
    // Re-open the state dict: drop the wrapping SETITEM, add an entry, close again.
    body.pop();
    w.op(...body).str('decode_head.buf');
    historyBuffer(w);
    w.op(0x73).op(0x73);
  } else {
    w.op(...body);
  }
  w.str('message_hub').emptyDict().str('log_scalars').emptyDict().str('train/loss');
  historyBuffer(w);
  w.op(0x73).op(0x73);
  if (opts.extraGlobal) w.str('runtime_info').global(...opts.extraGlobal).str('echo pwned').op(0x85).reduce().op(0x73);
  w.op(0x73); // message_hub into the root
  w.str('meta').emptyDict().str('dataset_meta').emptyDict().str('classes').mark().str('a').str('b').tuple().op(0x73).op(0x73).op(0x73);
  return w.stop().bytes();
}

describe('convert', () => {
  it('a segmentation .pth -> safetensors that loads with no flags (config, slide settings, resize, classes)', async () => {
    const out = path.join(dir, 'seg.safetensors');
    const { code, out: printed } = await runCli('convert', path.join(TINY, 'weights.pth'), out, '--config', path.join(SEG_FIXTURES, 'seg-tiny-slide', 'config.json'));
    expect(code).toBe(0);
    expect(printed).toContain('Mask2Former segmentation, DINOv2 width 32 x 8, 7 classes');
    const back = await loadSegWeightsFile(out);
    const direct = await loadSegWeightsFile(path.join(TINY, 'weights.pth'), { config: path.join(SEG_FIXTURES, 'seg-tiny-slide', 'config.json') });
    expect(back.config).toEqual(direct.config);
    expect(back.config.test).toEqual({ mode: 'slide', crop: [84, 84], stride: [56, 56] });
    expect(back.config.testResize).toEqual([480, 120]);
    expect(back.metainfo).toEqual(direct.metainfo);
    expect([...back.stateDict.keys()].sort()).toEqual([...direct.stateDict.keys()].sort());
    // Values, not only names: every tensor read back is the .pth's and the official
    // weights.safetensors' bit for bit.
    const official = await loadSegWeightsFile(path.join(TINY, 'weights.safetensors'), { config: path.join(TINY, 'config.json') });
    expect([...back.stateDict.keys()].sort()).toEqual([...official.stateDict.keys()].sort());
    const bytes = (t: { data: Float32Array }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (const [k, t] of direct.stateDict) {
      const got = back.stateDict.get(k)!;
      expect([k, got.shape]).toEqual([k, t.shape]);
      if (!bytes(got).equals(bytes(t))) throw new Error(`${k}: converted values differ from weights.pth's`);
      if (!bytes(got).equals(bytes(official.stateDict.get(k)!))) throw new Error(`${k}: converted values differ from weights.safetensors'`);
    }
  });
});

describe('mmengine training state beside the state dict', () => {
  it('HistoryBuffer objects and numpy arrays become inert stand-ins; the state dict and meta are read', async () => {
    const file = await writeFile(path.join(dir, 'train.pth'), torchZip('ck', trainingCheckpoint(), { 0: f32Bytes([1.5, -2]) }));
    const ck = await readTorchCheckpoint(file);
    expect([...ck.stateDict.keys()]).toEqual(['decode_head.x']);
    expect([...ck.stateDict.get('decode_head.x')!.data]).toEqual([1.5, -2]);
    const meta = ck.meta as Map<string, Map<string, unknown>>;
    expect(meta.get('dataset_meta')!.get('classes')).toEqual(['a', 'b']);
  });

  it('a stand-in inside the state dict is an error naming the entry and the class', async () => {
    const file = await writeFile(path.join(dir, 'bad-sd.pth'), torchZip('ck', trainingCheckpoint({ bufferInStateDict: true }), { 0: f32Bytes([1, 2]) }));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file} (ck/data.pkl): state dict entry "decode_head.buf" is not a tensor but a mmengine.logging.history_buffer.HistoryBuffer(...) object (training state is allowed only outside the state dict)`);
  });

  it('any other global in the training state is still refused before anything runs', async () => {
    const file = await writeFile(path.join(dir, 'evil.pth'), torchZip('ck', trainingCheckpoint({ extraGlobal: ['os', 'system'] }), { 0: f32Bytes([1, 2]) }));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file} (ck/data.pkl): refusing to load: the pickle names the global os.system`);
  });
});

describe('the wrong kind of checkpoint: one clear line', () => {
  it('a depth model given to segment', async () => {
    const depth = path.resolve(SEG_FIXTURES, '../parity/v2-tiny/weights.pth');
    await expect(loadSegWeightsFile(depth)).rejects.toThrow(`${depth}: this is a Depth Anything depth model (pretrained.* / depth_head.* keys), not a segmentation model; use \`depth-anything predict\``);
  });

  it.each(['weights.pth', 'weights.safetensors'])('a segmentation model (%s) given to predict', async (f) => {
    const file = path.join(TINY, f);
    await expect(loadWeightsFile(file)).rejects.toThrow(`${file}: this is a segmentation model (Mask2Former, backbone.dinov2.* / decode_head.* keys), not a depth model; use \`depth-anything segment\``);
  });
});
