/**
 * Depth Anything 3 scene files as bytes (platform-free; the Node shell writes them atomically,
 * the page offers them as downloads):
 *
 *   encodeDa3SceneGlb(scene: Da3Scene, { showCameras? }) -> Promise<Uint8Array>   scene.glb
 *   encodeDa3ScenePly(scene: Da3Scene) -> Uint8Array                               scene.ply
 *   encodeDa3CamerasJson(cameras: Da3CamerasForJson) -> string                     cameras.json
 *
 * scene.glb holds what the official exporter's trimesh scene holds: one POINTS mesh (POSITION
 * float32, COLOR_0 uint8 normalised RGBA, alpha 255) with the aligned points, then one LINES mesh
 * per camera (its 8 frustum segments moved by the alignment, coloured `_index_color_rgb`), all with
 * trimesh's default material, and the alignment matrix as the scene's `extras.hf_alignment`.
 * Encoded by io/glb.ts (hand-written; why is said there); its node names and buffer layout are
 * not trimesh's — the geometry, colours, modes and material are.
 */
import { GLTF_LINES, GLTF_POINTS, GlbGeometry, encodeGlb } from '../../io/glb';
import { encodePly } from '../../io/ply';
import { Da3Scene } from './scene';

/** RGB `[n, 3]` -> RGBA `[n, 4]` with alpha 255, as trimesh stores colours. */
function rgba(rgb: Uint8Array): Uint8Array {
  const n = rgb.length / 3;
  const out = new Uint8Array(n * 4).fill(255);
  for (let i = 0; i < n; i++) out.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
  return out;
}

/** scene.glb: the point cloud and (by default) the camera frustums, as a binary glTF 2.0. */
export function encodeDa3SceneGlb(scene: Da3Scene, options: { showCameras?: boolean } = {}): Uint8Array {
  const geometries: GlbGeometry[] = [];
  if (scene.points.length > 0) geometries.push({ name: 'points', mode: GLTF_POINTS, positions: scene.points, colors: rgba(scene.colors) });
  if (options.showCameras ?? true) {
    const n = scene.cameraColors.length / 3;
    for (let i = 0; i < n; i++) {
      const colors = new Uint8Array(16 * 3);
      for (let v = 0; v < 16; v++) colors.set(scene.cameraColors.subarray(i * 3, i * 3 + 3), v * 3);
      geometries.push({ name: `camera_${i}`, mode: GLTF_LINES, positions: Float32Array.from(scene.cameraFrustumLinesAligned.subarray(i * 48, i * 48 + 48)), colors: rgba(colors) });
    }
  }
  const hfAlignment = [0, 1, 2, 3].map((r) => Array.from(scene.alignment.subarray(r * 4, r * 4 + 4)));
  return encodeGlb({ geometries, extras: { hf_alignment: hfAlignment } });
}

/** scene.ply: binary little-endian, `x y z` float32 + `red green blue` uchar — scene.glb's points. */
export function encodeDa3ScenePly(scene: Da3Scene): Uint8Array {
  return encodePly({ positions: scene.points, colors: scene.colors }, 'depth-anything-tfjs Depth Anything 3 scene (official GLB exporter points, glTF axes)');
}

export interface Da3CamerasForJson {
  views: number;
  height: number;
  width: number;
  /** `[N, 3, 4]` world-to-camera. */
  extrinsics: ArrayLike<number>;
  /** `[N, 3, 3]` pixels at width x height. */
  intrinsics: ArrayLike<number>;
  /** Optional per-view source names (file names). */
  names?: readonly string[];
}

export const DA3_CAMERAS_CONVENTION =
  'extrinsics: world-to-camera 4x4, row-major, OpenCV camera axes (x right, y down, z forward), x_cam = E @ [x_world, 1]; '
  + 'intrinsics: 3x3 pinhole K in pixels of the processed image (width x height), pixel centres at integer coordinates as the official back-projection uses them';

/** cameras.json: one entry per view with its world-to-camera extrinsics, K, width and height. */
export function encodeDa3CamerasJson(c: Da3CamerasForJson): string {
  if (c.extrinsics.length !== c.views * 12 || c.intrinsics.length !== c.views * 9) {
    throw new Error(`encodeDa3CamerasJson: extrinsics ${c.extrinsics.length} and intrinsics ${c.intrinsics.length} numbers for ${c.views} view(s); [N, 3, 4] and [N, 3, 3] expected`);
  }
  const row = (a: ArrayLike<number>, start: number, len: number): number[] => Array.from({ length: len }, (_, j) => a[start + j]);
  const views = Array.from({ length: c.views }, (_, i) => ({
    index: i,
    ...(c.names ? { image: c.names[i] } : {}),
    width: c.width,
    height: c.height,
    extrinsics: [row(c.extrinsics, i * 12, 4), row(c.extrinsics, i * 12 + 4, 4), row(c.extrinsics, i * 12 + 8, 4), [0, 0, 0, 1]],
    intrinsics: [row(c.intrinsics, i * 9, 3), row(c.intrinsics, i * 9 + 3, 3), row(c.intrinsics, i * 9 + 6, 3)],
  }));
  return `${JSON.stringify({ convention: DA3_CAMERAS_CONVENTION, views }, null, 2)}\n`;
}
