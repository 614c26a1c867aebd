import { promises as fs } from 'fs';
import * as path from 'path';

/**
 * Writes a file so that readers never see a partial one: a temporary file in the same folder
 * (same filesystem, so the rename is atomic), renamed over the target at the end; on failure the
 * temporary file is removed and the target is untouched.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
