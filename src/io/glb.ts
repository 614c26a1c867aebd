/**
 * A minimal binary glTF 2.0 (GLB) writer for coloured point clouds and line sets: one buffer,
 * one node + mesh per geometry, POSITION float32 VEC3 (with the min/max the spec requires) and
 * COLOR_0 uint8 normalised VEC4. https://registry.khronos.org/glTF/specs/2.0/glTF-2.0.html#glb-file-format-specification
 *
 * Hand-written rather than @gltf-transform/core (tried first): its one module carries NodeIO with
 * `import("node:fs")`, which the browser bundles refuse (tools/no-node-builtins.cjs), and its CJS
 * build requires an ESM-only dependency that jest cannot load; ~100 lines beat shipping 2 MB.
 */

export const GLTF_POINTS = 0;
export const GLTF_LINES = 1;

export interface GlbGeometry {
  name: string;
  /** GLTF_POINTS or GLTF_LINES (pairs of vertices). */
  mode: typeof GLTF_POINTS | typeof GLTF_LINES;
  /** [n, 3] float32 x, y, z. */
  positions: Float32Array;
  /** [n, 4] uint8 RGBA. */
  colors: Uint8Array;
}

export interface GlbScene {
  geometries: GlbGeometry[];
  /** glTF material of every primitive (trimesh's default PBR material when omitted). */
  material?: Record<string, unknown>;
  /** Put on the scene object (`scenes[0].extras`). */
  extras?: Record<string, unknown>;
  generator?: string;
}

const DEFAULT_MATERIAL = { pbrMetallicRoughness: { baseColorFactor: [1, 1, 1, 1], metallicFactor: 0, roughnessFactor: 0 } };
const pad4 = (n: number): number => (n + 3) & ~3;

export function encodeGlb(scene: GlbScene): Uint8Array {
  const accessors: object[] = [];
  const bufferViews: object[] = [];
  const meshes: object[] = [];
  const nodes: object[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const addView = (bytes: Uint8Array): number => {
    bufferViews.push({ buffer: 0, byteOffset: offset, byteLength: bytes.byteLength });
    chunks.push(bytes);
    const padded = pad4(bytes.byteLength);
    if (padded > bytes.byteLength) chunks.push(new Uint8Array(padded - bytes.byteLength));
    offset += padded;
    return bufferViews.length - 1;
  };
  for (const g of scene.geometries) {
    const n = g.positions.length / 3;
    if (!Number.isInteger(n) || g.colors.length !== n * 4) {
      throw new Error(`encodeGlb: "${g.name}" has ${g.positions.length} coordinates and ${g.colors.length} colour bytes; [n, 3] and [n, 4] expected`);
    }
    if (n === 0) continue;
    const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < n * 3; i++) { min[i % 3] = Math.min(min[i % 3], g.positions[i]); max[i % 3] = Math.max(max[i % 3], g.positions[i]); }
    const pos = new Uint8Array(n * 12);
    const dv = new DataView(pos.buffer);
    for (let i = 0; i < n * 3; i++) dv.setFloat32(i * 4, g.positions[i], true);
    accessors.push({ bufferView: addView(pos), componentType: 5126, count: n, type: 'VEC3', min, max });
    accessors.push({ bufferView: addView(Uint8Array.from(g.colors)), componentType: 5121, normalized: true, count: n, type: 'VEC4' });
    meshes.push({ name: g.name, primitives: [{ attributes: { POSITION: accessors.length - 2, COLOR_0: accessors.length - 1 }, mode: g.mode, material: 0 }] });
    nodes.push({ name: g.name, mesh: meshes.length - 1 });
  }
  const json = {
    asset: { version: '2.0', generator: scene.generator ?? 'depth-anything-tfjs' },
    scene: 0,
    scenes: [{ nodes: nodes.map((_, i) => i), ...(scene.extras ? { extras: scene.extras } : {}) }],
    nodes,
    meshes,
    materials: [scene.material ?? DEFAULT_MATERIAL],
    accessors,
    bufferViews,
    buffers: [{ byteLength: offset }],
  };
  if (offset === 0) { delete (json as Partial<typeof json>).bufferViews; delete (json as Partial<typeof json>).buffers; delete (json as Partial<typeof json>).accessors; }
  const jsonText = new TextEncoder().encode(JSON.stringify(json));
  const jsonLen = pad4(jsonText.byteLength);
  const total = 12 + 8 + jsonLen + (offset > 0 ? 8 + offset : 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x46546c67, true); // "glTF"
  dv.setUint32(4, 2, true);
  dv.setUint32(8, total, true);
  dv.setUint32(12, jsonLen, true);
  dv.setUint32(16, 0x4e4f534a, true); // "JSON"
  out.set(jsonText, 20);
  out.fill(0x20, 20 + jsonText.byteLength, 20 + jsonLen); // JSON pads with spaces
  if (offset > 0) {
    let o = 20 + jsonLen;
    dv.setUint32(o, offset, true);
    dv.setUint32(o + 4, 0x004e4942, true); // "BIN\0"
    o += 8;
    for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  }
  return out;
}
