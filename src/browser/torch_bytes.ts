/**
 * Official `.pth` checkpoints in a page. Not wired yet: the zip reader (src/io/zip.ts) is built on
 * yauzl and file descriptors; until an ArrayBuffer zip source exists, say what to do instead.
 */
import { WeightsError } from '../weights/state_dict';
import type { StateDict } from '../weights/state_dict';

export async function readTorchCheckpointBytes(_bytes: Uint8Array, source: string): Promise<{ stateDict: StateDict }> {
  throw new WeightsError(`${source}: .pth checkpoints load only in Node for now; convert it once with \`npx depth-anything convert ${source.split('/').pop()} --dtype f16\` and load the .safetensors`);
}
