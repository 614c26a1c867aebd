/**
 * Official `.pth` checkpoints in a page: the bytes as an in-memory zip (io/zip_bytes.ts) read by
 * the same checkpoint reader as in Node (io/torch_zip.ts).
 */
import { BytesZip } from '../io/zip_bytes';
import { readTorchCheckpoint, TorchCheckpoint } from './torch_zip';

export async function readTorchCheckpointBytes(bytes: Uint8Array, source: string): Promise<TorchCheckpoint> {
  return readTorchCheckpoint(source, new BytesZip(bytes, source));
}
