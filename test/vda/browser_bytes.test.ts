/**
 * `vdaFromBytes` (src/browser/video_depth_anything.ts): what the page's `VideoDepthAnything.load`
 * and the worker read from a URL, a File or bytes. The released form is a `.pth` (a torch zip):
 * both forms give the same state dict as Node's loader; a depth model's file is refused in one line.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { vdaFromBytes } from '../../src/browser/video_depth_anything';
import { vdaConfigFromJson } from '../../src/config/vda';
import { parseSafetensors } from '../../src/io/safetensors';
import { loadWeightsFile } from '../../src/node/weights_file';
import { pthFromSafetensors } from '../io/torch_writer';
import { FIXTURES } from '../helpers';

const DIR = path.join(FIXTURES, 'vda', 'vda-tiny');
const WEIGHTS = path.join(DIR, 'weights.safetensors');
const config = vdaConfigFromJson(JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8')), 'config.json');

describe('vdaFromBytes (the browser VDA loader)', () => {
  it('reads safetensors and the released .pth form to the state dict Node reads', async () => {
    const bytes = new Uint8Array(readFileSync(WEIGHTS));
    const node = await loadWeightsFile(WEIGHTS);
    const pth = pthFromSafetensors(parseSafetensors(bytes, 'weights.safetensors').tensors);
    for (const [name, b] of [['weights.safetensors', bytes], ['video_depth_anything_vits.pth', pth]] as const) {
      const r = await vdaFromBytes(b, name, { config });
      expect(r.config).toEqual({ ...config, metric: false });
      expect([...r.stateDict.keys()].sort()).toEqual([...node.stateDict.keys()].sort());
      for (const [k, t] of node.stateDict) {
        expect(r.stateDict.get(k)!.shape).toEqual(t.shape);
        expect(Buffer.from(Float32Array.from(r.stateDict.get(k)!.data).buffer).equals(Buffer.from(Float32Array.from(t.data).buffer))).toBe(true);
      }
    }
  });

  it('takes metric from the release name, as in Node', async () => {
    const r = await vdaFromBytes(new Uint8Array(readFileSync(WEIGHTS)), 'metric_video_depth_anything_vits.pth', { config });
    expect(r.config.metric).toBe(true);
  });

  it('refuses a depth model\'s weights in one line', async () => {
    const v2 = new Uint8Array(readFileSync(path.join(FIXTURES, 'parity', 'v2-tiny', 'weights.safetensors')));
    await expect(vdaFromBytes(v2, 'v2.safetensors')).rejects.toThrow('v2.safetensors: not a Video Depth Anything checkpoint (no head.motion_modules.*); use DepthAnything for image models');
  });
});
