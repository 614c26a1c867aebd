/**
 * The in-memory zip reader the browser uses for `.pth`: the fixtures' torch.save zips (stored
 * entries) and the same checkpoint repacked with deflated entries read to identical tensors.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';
import { BytesZip } from '../../src/io/zip_bytes';
import { readTorchCheckpoint } from '../../src/weights/torch_zip';
import { caseDir } from '../helpers';

/** A minimal zip writer (deflated entries, no zip64), enough to exercise the inflate path. */
function deflatedZip(entries: Array<{ name: string; data: Uint8Array }>): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const comp = zlib.deflateRawSync(e.data);
    const crc = zlib.crc32 ? zlib.crc32(e.data) : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc >>> 0, 14); local.writeUInt32LE(comp.length, 18); local.writeUInt32LE(e.data.length, 22); local.writeUInt16LE(name.length, 26);
    locals.push(local, name, comp);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc >>> 0, 16); central.writeUInt32LE(comp.length, 20); central.writeUInt32LE(e.data.length, 24); central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + comp.length;
  }
  const dir = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(entries.length, 8); eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(dir.length, 12); eocd.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, dir, eocd]));
}

describe('BytesZip', () => {
  it('reads a deflated repack of a torch.save checkpoint to the same tensors as the file', async () => {
    const file = `${caseDir('v2-tiny')}/weights.pth`;
    const stored = new BytesZip(new Uint8Array(fs.readFileSync(file)), file);
    const entries = await Promise.all(stored.entries().map(async (e) => ({ name: e.name, data: await stored.read(e.name) })));
    const repacked = deflatedZip(entries);
    expect(repacked.length).toBeLessThan(fs.statSync(file).size);
    const fromDeflated = await readTorchCheckpoint('repacked.pth', new BytesZip(repacked, 'repacked.pth'));
    const fromFile = await readTorchCheckpoint(file);
    expect([...fromDeflated.stateDict.keys()]).toEqual([...fromFile.stateDict.keys()]);
    for (const [k, t] of fromFile.stateDict) expect(Array.from(fromDeflated.stateDict.get(k)!.data)).toEqual(Array.from(t.data));
  });

  it('names the entry and the problem for a damaged archive', async () => {
    const zip = deflatedZip([{ name: 'a/data.pkl', data: new Uint8Array(100) }]);
    const cut = zip.slice();
    cut[2] = 0; // the local header signature
    await expect(new BytesZip(cut, 'x.pth').read('a/data.pkl')).rejects.toThrow(/^x\.pth: zip entry "a\/data\.pkl": local header missing \(truncated file\?\)$/);
    await expect(new BytesZip(zip, 'x.pth').read('b')).rejects.toThrow(/^x\.pth: zip entry "b" is missing$/);
    expect(() => new BytesZip(new Uint8Array(10), 'y.pth')).toThrow(/^y\.pth: not a readable zip archive \(no end-of-central-directory record/);
  });
});
