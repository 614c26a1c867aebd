/** A trained state dict as an official-format `.pth` (torch.save's zip), written atomically. */
import { crc32 } from '../io/zip';
import { writeTorchCheckpoint } from '../weights/torch_save';
import { StateDict } from '../weights/state_dict';
import { writeAtomically } from './atomic';

export async function writeTorchCheckpointFile(target: string, sd: StateDict): Promise<void> {
  await writeAtomically(target, async (fh) => {
    await writeTorchCheckpoint({ write: async (b) => { await fh.write(b); } }, sd, target, crc32);
  });
}
