/**
 * Depth outputs as bytes and pixels, with no Node API (the browser bundle uses them too):
 * `.npy`, 16-bit levels, colour maps, the side-by-side image and metric point clouds.
 * outputs.ts adds the PNG encoders (sharp) and the file writer.
 */
import { encodeNpy } from '../io/npy';
import { encodePly, PointCloud } from '../io/ply';
import { ColormapName, applyColormap, normalizeToUint8 } from './colormap';
import { RgbImage } from './rgb';
import { DepthMap } from './postprocess';

export type OutputFormat = 'npy' | 'png16' | 'color' | 'ply';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['npy', 'png16', 'color', 'ply'];

export class OutputError extends Error {
  constructor(message: string) { super(message); this.name = 'OutputError'; }
}

/** White gap between the input and its depth in the side-by-side image (official run.py: 50 px). */
export const SPLIT_WIDTH = 50;

/** Raw depth [height, width] float32, readable with `np.load`. */
export function depthToNpy(depth: DepthMap): Uint8Array {
  return encodeNpy(depth.data, [depth.height, depth.width]);
}

/**
 * 16-bit levels: relative depth min-max normalised to 0..65535 (a constant map gives 0);
 * metric depth in millimetres, clamped to 0..65535 (65.535 m).
 */
export function depthToUint16(depth: DepthMap): Uint16Array {
  const out = new Uint16Array(depth.data.length);
  const d = depth.data;
  const round = Math.round;
  if (depth.metric) {
    for (let i = 0; i < d.length; i++) { const mm = round(d[i] * 1000); out[i] = mm > 65535 ? 65535 : mm < 0 ? 0 : mm; }
    return out;
  }
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < d.length; i++) { if (d[i] < min) min = d[i]; if (d[i] > max) max = d[i]; }
  const range = max - min;
  if (!(range > 0)) return out;
  for (let i = 0; i < d.length; i++) out[i] = round(((d[i] - min) / range) * 65535);
  return out;
}

/** The official colour image: min-max to uint8, then the colour map (RGB). */
export function colorizeDepth(depth: DepthMap, colormap: ColormapName = 'spectral_r'): RgbImage {
  return { data: applyColormap(normalizeToUint8(depth.data), colormap), width: depth.width, height: depth.height };
}

/** The official side-by-side image: input, a 50-px white band, depth (same height). */
export function sideBySide(image: RgbImage, depthRgb: RgbImage): RgbImage {
  if (image.height !== depthRgb.height) {
    throw new OutputError(`side-by-side: image is ${image.height} px high but depth ${depthRgb.height}`);
  }
  const width = image.width + SPLIT_WIDTH + depthRgb.width;
  const data = new Uint8Array(width * image.height * 3).fill(255);
  for (let y = 0; y < image.height; y++) {
    const row = y * width * 3;
    data.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), row);
    data.set(depthRgb.data.subarray(y * depthRgb.width * 3, (y + 1) * depthRgb.width * 3), row + (image.width + SPLIT_WIDTH) * 3);
  }
  return { data, width, height: image.height };
}

export interface Intrinsics {
  /** Focal lengths in pixels (official default 470.4 for both). */
  fx: number;
  fy: number;
}

export const DEFAULT_FOCAL = 470.4;

/**
 * Back-projects metric depth through a pinhole at the image centre, as the official
 * `depth_to_pointcloud.py`: x = (u - w/2) / fx * z, y = (v - h/2) / fy * z, coloured with the image.
 */
export function depthToPointCloud(depth: DepthMap, image: RgbImage, { fx, fy }: Intrinsics): PointCloud {
  if (!depth.metric) throw new OutputError('a point cloud needs metric depth (a metric model); this depth is relative');
  if (!(fx > 0 && fy > 0)) throw new OutputError(`focal lengths must be positive, got fx=${fx}, fy=${fy}`);
  if (image.width !== depth.width || image.height !== depth.height) {
    throw new OutputError(`point cloud: image is ${image.width}x${image.height} but depth ${depth.width}x${depth.height}`);
  }
  const { width: w, height: h } = depth;
  const positions = new Float32Array(w * h * 3);
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      const i = v * w + u;
      const z = depth.data[i];
      positions[i * 3] = ((u - w / 2) / fx) * z;
      positions[i * 3 + 1] = ((v - h / 2) / fy) * z;
      positions[i * 3 + 2] = z;
    }
  }
  return { positions, colors: image.data.slice() };
}

export function pointCloudToPly(cloud: PointCloud): Uint8Array {
  return encodePly(cloud);
}
