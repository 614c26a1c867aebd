import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';

/**
 * Writes a file so that readers never see a partial one: `write` fills a new temporary file in
 * the same folder (same filesystem, so the rename is atomic), which is synced and renamed over
 * the target at the end; on any failure the temporary file is removed and the target is untouched.
 * Hand-written: write-file-atomic's current major needs Node 22, and streaming writers need the handle.
 */
export async function writeAtomically(target: string, write: (fh: fs.FileHandle) => Promise<void>): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'wx');
  try {
    try {
      await write(fh);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await writeAtomically(target, (fh) => fh.writeFile(data));
}
