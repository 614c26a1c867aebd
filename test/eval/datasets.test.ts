import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { encodeNpy } from '../../src/io/npy';
import { cropMap, DATASET_PRESETS, kbCropBox, listSamples, readGroundTruth } from '../../src/node/eval/datasets';

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-evalds-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const png16 = (values: number[], width: number, height: number) =>
  sharp(Uint16Array.from(values), { raw: { width, height, channels: 1 } }).toColourspace('grey16').png().toBuffer();
const rgbPng = (w = 4, h = 3) => sharp(new Uint8Array(w * h * 3).fill(90), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();

async function put(rel: string, bytes: Uint8Array | string = 'x'): Promise<string> {
  const f = path.join(dir, rel);
  await fs.mkdir(path.dirname(f), { recursive: true });
  await fs.writeFile(f, bytes);
  return f;
}

describe('readGroundTruth', () => {
  test('16-bit PNG: every stored value comes back exactly (including > 255 and 65535), divided by the scale', async () => {
    const stored = [0, 1, 255, 256, 257, 1000, 12345, 40000, 65535];
    const f = await put('gt.png', await png16(stored, 3, 3));
    const gt = await readGroundTruth(f, 1000);
    expect([gt.width, gt.height]).toEqual([3, 3]);
    expect(Array.from(gt.data)).toEqual(stored.map((v) => Math.fround(v / 1000)));
    const kitti = await readGroundTruth(f, 256);
    expect(kitti.data[8]).toBe(Math.fround(65535 / 256));
  });

  test('8-bit and colour PNGs are refused as ground truth', async () => {
    const grey8 = await put('g8.png', await sharp(new Uint8Array([1, 2, 3, 4]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    await expect(readGroundTruth(grey8, 1000)).rejects.toThrow(`${grey8}: ground truth must be a single-channel 16-bit PNG (or float32 .npy)`);
    const rgb = await put('rgb.png', await rgbPng());
    await expect(readGroundTruth(rgb, 1000)).rejects.toThrow('with 3 channel(s) of 8-bit samples');
    const jpg = await put('d.jpg', await sharp(new Uint8Array(12).fill(5), { raw: { width: 2, height: 2, channels: 3 } }).jpeg().toBuffer());
    await expect(readGroundTruth(jpg, 1000)).rejects.toThrow('this is jpeg');
  });

  test('.npy in metres: (H, W), (H, W, 1) and (1, H, W); other shapes refused', async () => {
    const v = Float32Array.from([0.5, 1, 2, 0, 3, 4]);
    for (const shape of [[2, 3], [2, 3, 1], [1, 2, 3]]) {
      const f = await put(`d${shape.length}${shape[0]}.npy`, encodeNpy(v, shape));
      const gt = await readGroundTruth(f, 1000); // the scale applies to PNGs only
      expect([gt.height, gt.width, Array.from(gt.data)]).toEqual([2, 3, Array.from(v)]);
    }
    const bad = await put('bad.npy', encodeNpy(v, [6]));
    await expect(readGroundTruth(bad, 1000)).rejects.toThrow(`${bad}: ground truth has shape (6); (H, W), (1, H, W) or (H, W, 1) expected`);
  });

  test('missing files are clear errors', async () => {
    await expect(readGroundTruth(path.join(dir, 'nope.npy'), 1)).rejects.toThrow('nope.npy: cannot read: ENOENT');
    await expect(readGroundTruth(path.join(dir, 'nope.png'), 1)).rejects.toThrow('nope.png: cannot read ground truth');
  });
});

describe('folder layout: image/ + depth/', () => {
  test('pairs by relative path, sub-folders included, sorted', async () => {
    await put('image/b.jpg');
    await put('image/a.png');
    await put('image/sub/c.png');
    await put('depth/b.png');
    await put('depth/a.npy');
    await put('depth/sub/c.png');
    const s = await listSamples('folder', dir);
    expect(s.map((x) => x.name)).toEqual(['a', 'b', 'sub/c']);
    expect(s[0]).toEqual({ name: 'a', image: path.join(dir, 'image/a.png'), depth: path.join(dir, 'depth/a.npy') });
  });

  test('mismatches name the files on both sides', async () => {
    await put('image/a.png');
    await put('image/b.png');
    await put('depth/a.png');
    await put('depth/z.png');
    await expect(listSamples('folder', dir)).rejects.toThrow(
      `${dir}: image/ and depth/ do not match: 1 image(s) without ground truth (depth/NAME.png or .npy): image/b.png; 1 ground-truth file(s) without an image: depth/z.png`);
  });

  test('an image with both .png and .npy ground truth is ambiguous', async () => {
    await put('image/a.png');
    await put('depth/a.png');
    await put('depth/a.npy');
    await expect(listSamples('folder', dir)).rejects.toThrow('ambiguous ground truth (both .png and .npy)');
  });

  test('empty, missing sub-folders, not a folder', async () => {
    await expect(listSamples('folder', dir)).rejects.toThrow(`${dir}: a folder dataset has two sub-folders, image/ (RGB) and depth/ (16-bit PNG or .npy, same names); missing image/`);
    await fs.mkdir(path.join(dir, 'image'));
    await expect(listSamples('folder', dir)).rejects.toThrow('missing depth/');
    await fs.mkdir(path.join(dir, 'depth'));
    await expect(listSamples('folder', dir)).rejects.toThrow(`${dir}: no images in image/`);
    await expect(listSamples('folder', path.join(dir, 'nope'))).rejects.toThrow(`${path.join(dir, 'nope')}: not a folder`);
  });
});

describe('NYUv2 export (BTS / ZoeDepth): <scene>/rgb_XXXXX.jpg + sync_depth_XXXXX.png', () => {
  test('pairs rgb_ with sync_depth_ (or depth_) in the same folder', async () => {
    await put('bathroom/rgb_00045.jpg');
    await put('bathroom/sync_depth_00045.png');
    await put('kitchen/rgb_00100.jpg');
    await put('kitchen/depth_00100.png');
    const s = await listSamples('nyu', dir);
    expect(s).toEqual([
      { name: 'bathroom/rgb_00045', image: path.join(dir, 'bathroom/rgb_00045.jpg'), depth: path.join(dir, 'bathroom/sync_depth_00045.png') },
      { name: 'kitchen/rgb_00100', image: path.join(dir, 'kitchen/rgb_00100.jpg'), depth: path.join(dir, 'kitchen/depth_00100.png') },
    ]);
  });

  test('an image without depth, or no images at all, is an error', async () => {
    await expect(listSamples('nyu', dir)).rejects.toThrow(`${dir}: no NYUv2 images (rgb_XXXXX.jpg beside sync_depth_XXXXX.png)`);
    await put('office/rgb_00001.jpg');
    await expect(listSamples('nyu', dir)).rejects.toThrow('1 NYUv2 image(s) without ground truth (sync_depth_XXXXX.png, depth_XXXXX.png or .npy beside them): office/rgb_00001.jpg');
  });

  test('the NYU preset is the ZoeDepth one: 1e-3..10 m, Eigen crop, millimetres', () => {
    expect(DATASET_PRESETS.nyu).toEqual({ minDepth: 1e-3, maxDepth: 10, crop: 'eigen', depthScale: 1000, kbCrop: false });
    expect(DATASET_PRESETS.kitti).toEqual({ minDepth: 1e-3, maxDepth: 80, crop: 'garg', depthScale: 256, kbCrop: true });
  });
});

describe('KITTI', () => {
  test('raw + annotated depth layout: GT matched to its raw image; images without GT are ignored', async () => {
    await put('raw/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000005.png');
    await put('raw/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000000.png'); // no GT (normal in KITTI)
    await put('gt/val/2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000005.png');
    const s = await listSamples('kitti', path.join(dir, 'raw'), { gtDir: path.join(dir, 'gt') });
    expect(s).toEqual([{
      name: '2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000005',
      image: path.join(dir, 'raw/2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000005.png'),
      depth: path.join(dir, 'gt/val/2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000005.png'),
    }]);
  });

  test('GT without its image is an error', async () => {
    await put('2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_03/0000000005.png');
    await expect(listSamples('kitti', dir)).rejects.toThrow('1 KITTI ground-truth map(s) without their image: 2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_03/0000000005.png');
  });

  test('depth_selection layout: image/<drive>_image_<frame>_image_02.png + groundtruth_depth/<drive>_groundtruth_depth_<frame>_image_02.png', async () => {
    await put('val_selection_cropped/image/2011_09_26_drive_0002_sync_image_0000000005_image_02.png');
    await put('val_selection_cropped/groundtruth_depth/2011_09_26_drive_0002_sync_groundtruth_depth_0000000005_image_02.png');
    await put('val_selection_cropped/image/2011_09_26_drive_0002_sync_image_0000000006_image_03.png');
    await put('val_selection_cropped/groundtruth_depth/2011_09_26_drive_0002_sync_groundtruth_depth_0000000006_image_03.png');
    await put('val_selection_cropped/image/2011_09_26_drive_0002_sync_image_0000000007_image_02.png'); // no GT: ignored
    const s = await listSamples('kitti', dir);
    expect(s).toEqual([5, 6].map((f) => ({
      name: `val_selection_cropped/image/2011_09_26_drive_0002_sync_image_000000000${f}_image_0${f - 3}`,
      image: path.join(dir, `val_selection_cropped/image/2011_09_26_drive_0002_sync_image_000000000${f}_image_0${f - 3}.png`),
      depth: path.join(dir, `val_selection_cropped/groundtruth_depth/2011_09_26_drive_0002_sync_groundtruth_depth_000000000${f}_image_0${f - 3}.png`),
    })));
    await fs.rm(path.join(dir, 'val_selection_cropped/image/2011_09_26_drive_0002_sync_image_0000000006_image_03.png'));
    await expect(listSamples('kitti', dir)).rejects.toThrow('1 KITTI ground-truth map(s) without their image: val_selection_cropped/groundtruth_depth/2011_09_26_drive_0002_sync_groundtruth_depth_0000000006_image_03.png');
  });

  test('no ground truth at all points to --split', async () => {
    await expect(listSamples('kitti', dir)).rejects.toThrow('no KITTI ground truth found');
  });
});

describe('split files ("image depth [focal]")', () => {
  test('relative to the data folder (depth to gtDir); "None" depth lines left out; leading slashes dropped', async () => {
    await put('raw/2011_09_26/d_sync/image_02/data/0000000069.png');
    await put('gt/d_sync/proj_depth/groundtruth/image_02/0000000069.png');
    const split = await put('eigen.txt', [
      '2011_09_26/d_sync/image_02/data/0000000069.png d_sync/proj_depth/groundtruth/image_02/0000000069.png 721.5377',
      '2011_09_26/d_sync/image_02/data/0000000070.png None 721.5377',
      '',
      '/2011_09_26/d_sync/image_02/data/0000000069.png /d_sync/proj_depth/groundtruth/image_02/0000000069.png',
    ].join('\n'));
    const s = await listSamples('kitti', path.join(dir, 'raw'), { split, gtDir: path.join(dir, 'gt') });
    expect(s).toHaveLength(2);
    expect(s[0]).toEqual({
      name: '2011_09_26/d_sync/image_02/data/0000000069',
      image: path.join(dir, 'raw/2011_09_26/d_sync/image_02/data/0000000069.png'),
      depth: path.join(dir, 'gt/d_sync/proj_depth/groundtruth/image_02/0000000069.png'),
    });
  });

  test('missing listed files, malformed lines and unreadable split files are errors', async () => {
    const split = await put('s.txt', 'a/rgb_1.jpg a/sync_depth_1.png 518.8579\n');
    await expect(listSamples('nyu', dir, { split })).rejects.toThrow(`${split}: 2 listed file(s) not found: ${path.join(dir, 'a/rgb_1.jpg')}, ${path.join(dir, 'a/sync_depth_1.png')}`);
    const bad = await put('bad.txt', 'only_one_field\n');
    await expect(listSamples('nyu', dir, { split: bad })).rejects.toThrow(`${bad}:1: expected "image depth [focal]", got "only_one_field"`);
    const none = await put('none.txt', 'a.png None\n');
    await expect(listSamples('nyu', dir, { split: none })).rejects.toThrow('no samples with ground truth');
    await expect(listSamples('nyu', dir, { split: path.join(dir, 'nope.txt') })).rejects.toThrow('cannot read split file');
  });
});

describe('KITTI benchmark crop', () => {
  test('352x1216 at the bottom, centred (BTS / ZoeDepth do_kb_crop); none for smaller frames', () => {
    // 1242x375: top = 375 - 352 = 23, left = int((1242 - 1216) / 2) = 13
    expect(kbCropBox(1242, 375)).toEqual({ left: 13, top: 23, width: 1216, height: 352 });
    // 1241x376: left = int(25 / 2) = 12
    expect(kbCropBox(1241, 376)).toEqual({ left: 12, top: 24, width: 1216, height: 352 });
    expect(kbCropBox(1216, 352)).toEqual({ left: 0, top: 0, width: 1216, height: 352 });
    expect(kbCropBox(640, 480)).toBeUndefined();
  });

  test('cropMap takes the window, for 1 and 3 channels', () => {
    // 4x3 map, values = index
    const m = Float32Array.from({ length: 12 }, (_, i) => i);
    expect(Array.from(cropMap(m, 4, 1, { left: 1, top: 1, width: 2, height: 2 }))).toEqual([5, 6, 9, 10]);
    const rgb = Uint8Array.from({ length: 12 }, (_, i) => i); // 2x2x3
    expect(Array.from(cropMap(rgb, 2, 3, { left: 1, top: 0, width: 1, height: 2 }))).toEqual([3, 4, 5, 9, 10, 11]);
  });
});
