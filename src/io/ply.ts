/**
 * Binary little-endian PLY point clouds (x, y, z float32; red, green, blue uchar), the layout
 * Open3D's `write_point_cloud` produces for the official `depth_to_pointcloud.py`, minus its
 * float64 coordinates. http://paulbourke.net/dataformats/ply/
 */

export interface PointCloud {
  /** [n, 3] interleaved x, y, z. */
  positions: Float32Array;
  /** [n, 3] interleaved 8-bit r, g, b. */
  colors: Uint8Array;
}

export function encodePly(cloud: PointCloud, comment = 'depth-anything-tfjs'): Uint8Array {
  const n = cloud.positions.length / 3;
  if (!Number.isInteger(n) || cloud.colors.length !== n * 3) {
    throw new Error(`encodePly: ${cloud.positions.length} coordinates and ${cloud.colors.length} colour bytes do not describe the same points`);
  }
  const header = [
    'ply', 'format binary_little_endian 1.0', `comment ${comment}`, `element vertex ${n}`,
    'property float x', 'property float y', 'property float z',
    'property uchar red', 'property uchar green', 'property uchar blue', 'end_header', '',
  ].join('\n');
  const hb = new TextEncoder().encode(header);
  const out = new Uint8Array(hb.length + n * 15);
  out.set(hb, 0);
  const dv = new DataView(out.buffer);
  let o = hb.length;
  for (let i = 0; i < n; i++, o += 15) {
    dv.setFloat32(o, cloud.positions[i * 3], true);
    dv.setFloat32(o + 4, cloud.positions[i * 3 + 1], true);
    dv.setFloat32(o + 8, cloud.positions[i * 3 + 2], true);
    out[o + 12] = cloud.colors[i * 3];
    out[o + 13] = cloud.colors[i * 3 + 1];
    out[o + 14] = cloud.colors[i * 3 + 2];
  }
  return out;
}

/** Reads back what `encodePly` writes (for tests and tools; not a general PLY reader). */
export function decodePly(bytes: Uint8Array): PointCloud & { header: string[] } {
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 4096)));
  const end = text.indexOf('end_header\n');
  if (!text.startsWith('ply\n') || end < 0) throw new Error('not a PLY file (no "ply" magic or "end_header")');
  const header = text.slice(0, end + 'end_header'.length).split('\n');
  const vertexLine = header.find((l) => l.startsWith('element vertex '));
  const n = Number(vertexLine?.split(' ')[2]);
  const off = end + 'end_header\n'.length;
  if (!Number.isInteger(n) || bytes.length - off !== n * 15) throw new Error(`PLY body has ${bytes.length - off} bytes; ${n} vertices x 15 expected`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const positions = new Float32Array(n * 3);
  const colors = new Uint8Array(n * 3);
  for (let i = 0, o = off; i < n; i++, o += 15) {
    positions[i * 3] = dv.getFloat32(o, true);
    positions[i * 3 + 1] = dv.getFloat32(o + 4, true);
    positions[i * 3 + 2] = dv.getFloat32(o + 8, true);
    colors.set(bytes.subarray(o + 12, o + 15), i * 3);
  }
  return { positions, colors, header };
}
