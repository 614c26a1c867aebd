import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { decodePly } from '../../src/io/ply';
import { writeDa3SceneFiles } from '../../src/node/da3_scene_files';
import { da3Scene, Da3Prediction } from '../../src/pipeline/da3/scene';
import { encodeDa3CamerasJson, encodeDa3SceneGlb, encodeDa3ScenePly } from '../../src/pipeline/da3/scene_files';
import { compareArrays, PARITY_TOLERANCE } from '../../src/verify/compare';
import { countDiff, f32, f64, loadDa3Case, u8 } from './da3_fixtures';

const c = loadDa3Case('da3-tiny-anyview');
const exp = c.exp!;
const [n, h, w] = c.acts.get('prediction.depth')!.shape;
const pred: Da3Prediction = {
  views: n, height: h, width: w,
  depth: f32(c.acts, 'prediction.depth'), conf: f32(c.acts, 'prediction.conf'),
  extrinsics: f32(c.acts, 'prediction.extrinsics'), intrinsics: f32(c.acts, 'prediction.intrinsics'),
  processedImages: u8(c.acts, 'prediction.processed_images'),
};
const scene = da3Scene(pred);

/** A strict reader of what a GLB holds (spec 2.0: header, 4-byte aligned JSON and BIN chunks). */
function readGlb(bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(dv.getUint32(0, true)).toBe(0x46546c67);
  expect(dv.getUint32(4, true)).toBe(2);
  expect(dv.getUint32(8, true)).toBe(bytes.byteLength);
  const jsonLen = dv.getUint32(12, true);
  expect(dv.getUint32(16, true)).toBe(0x4e4f534a);
  expect(jsonLen % 4).toBe(0);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(20, 20 + jsonLen)));
  const binLen = dv.getUint32(20 + jsonLen, true);
  expect(dv.getUint32(24 + jsonLen, true)).toBe(0x004e4942);
  expect(28 + jsonLen + binLen).toBe(bytes.byteLength);
  expect(json.buffers[0].byteLength).toBe(binLen);
  const bin = bytes.slice(28 + jsonLen);
  const accessor = (i: number) => {
    const a = json.accessors[i];
    const v = json.bufferViews[a.bufferView];
    const comps = a.type === 'VEC3' ? 3 : 4;
    expect(v.byteOffset % 4).toBe(0);
    return a.componentType === 5126
      ? new Float32Array(bin.buffer, v.byteOffset, a.count * comps)
      : new Uint8Array(bin.buffer, v.byteOffset, a.count * comps);
  };
  return { json, accessor };
}

function close(ours: ArrayLike<number>, ref: ArrayLike<number>): void {
  const cmp = compareArrays(Float32Array.from(ours), Float32Array.from(ref));
  expect(cmp.relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
}

describe('export_to_glb arrays (da3-tiny-anyview export.safetensors)', () => {
  test('conf threshold (numpy percentiles) and the kept pixels', () => {
    expect(scene.confThresh).toBe(f64(exp, 'glb.conf_thresh')[0]);
    expect(scene.pointsWorld.length / 3).toBe(exp.get('glb.points_world')!.shape[0]);
  });
  test('points and colours in the world frame', () => {
    close(scene.pointsWorld, f32(exp, 'glb.points_world'));
    expect(countDiff(scene.colorsWorld, u8(exp, 'glb.colors_world'))).toBe(0);
  });
  test('alignment, aligned points and colours', () => {
    const a = f64(exp, 'glb.alignment');
    for (let i = 0; i < 16; i++) expect(scene.alignment[i]).toBeCloseTo(a[i], 12);
    close(scene.points, f32(exp, 'glb.points'));
    expect(countDiff(scene.colors, u8(exp, 'glb.colors'))).toBe(0);
  });
  test('camera frustum lines', () => {
    const ref = f64(exp, 'glb.camera_frustum_lines');
    expect(scene.cameraFrustumLines.length).toBe(ref.length);
    for (let i = 0; i < ref.length; i++) expect(scene.cameraFrustumLines[i]).toBeCloseTo(ref[i], 9);
  });
});

describe('scene files', () => {
  test('scene.glb: glTF 2.0 binary with the points and one line set per camera', () => {
    const { json, accessor } = readGlb(encodeDa3SceneGlb(scene));
    expect(json.asset.version).toBe('2.0');
    const prims = json.meshes.map((m: { primitives: Array<{ mode: number; attributes: Record<string, number>; material: number }> }) => m.primitives[0]);
    expect(prims.map((p: { mode: number }) => p.mode)).toEqual([0, 1, 1]);
    expect(json.scenes[0].nodes).toEqual([0, 1, 2]);
    expect(countDiff(accessor(prims[0].attributes.POSITION), scene.points)).toBe(0);
    const posAcc = json.accessors[prims[0].attributes.POSITION];
    expect(posAcc.min[0]).toBe(Math.min(...Array.from(scene.points).filter((_, i) => i % 3 === 0)));
    const colAcc = json.accessors[prims[0].attributes.COLOR_0];
    expect([colAcc.type, colAcc.componentType, colAcc.normalized]).toEqual(['VEC4', 5121, true]);
    expect(Array.from(accessor(prims[0].attributes.COLOR_0).subarray(0, 4))).toEqual([...scene.colors.subarray(0, 3), 255]);
    expect(Array.from(accessor(prims[1].attributes.POSITION))).toEqual(Array.from(Float32Array.from(scene.cameraFrustumLinesAligned.subarray(0, 48))));
    expect(Array.from(accessor(prims[2].attributes.COLOR_0).subarray(0, 4))).toEqual([...scene.cameraColors.subarray(3, 6), 255]);
    expect(json.materials[0].pbrMetallicRoughness.baseColorFactor).toEqual([1, 1, 1, 1]);
    expect(json.scenes[0].extras.hf_alignment[1][1]).toBe(scene.alignment[5]);
    expect(readGlb(encodeDa3SceneGlb(scene, { showCameras: false })).json.meshes).toHaveLength(1);
  });
  test('scene.ply: binary little-endian x y z float32 + red green blue uchar, the same points', () => {
    const ply = decodePly(encodeDa3ScenePly(scene));
    expect(ply.header).toEqual(expect.arrayContaining(['format binary_little_endian 1.0', 'property float x', 'property uchar red']));
    expect(countDiff(ply.positions, scene.points)).toBe(0);
    expect(countDiff(ply.colors, scene.colors)).toBe(0);
  });
  test('cameras.json: world-to-camera 4x4 and K per view', () => {
    const json = JSON.parse(encodeDa3CamerasJson({ ...pred, names: ['image0.png', 'image1.png'] }));
    expect(json.views).toHaveLength(2);
    expect(json.views[1]).toMatchObject({ index: 1, image: 'image1.png', width: w, height: h });
    expect(json.views[1].extrinsics[3]).toEqual([0, 0, 0, 1]);
    expect(json.views[1].extrinsics[0][3]).toBe(pred.extrinsics[12 + 3]);
    expect(json.views[0].intrinsics[1][1]).toBe(pred.intrinsics[4]);
    expect(json.convention).toMatch(/world-to-camera/);
  });
  test('writeDa3SceneFiles writes the three files (and nothing else) atomically', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'da3-scene-'));
    try {
      const out = path.join(dir, 'out');
      const written = await writeDa3SceneFiles(out, scene, pred);
      expect(written.map((p) => path.basename(p))).toEqual(['scene.glb', 'scene.ply', 'cameras.json']);
      expect(readdirSync(out).sort()).toEqual(['cameras.json', 'scene.glb', 'scene.ply']);
      expect(countDiff(decodePly(new Uint8Array(readFileSync(path.join(out, 'scene.ply')))).positions, scene.points)).toBe(0);
      // A camera array of the wrong size fails while encoding: nothing is written.
      const bad = path.join(dir, 'bad');
      await expect(writeDa3SceneFiles(bad, scene, { ...pred, intrinsics: new Float32Array(3) })).rejects.toThrow(/encodeDa3CamerasJson/);
      expect(() => readdirSync(bad)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
