/**
 * Depth outputs in a page: a colour map drawn into a canvas, and the files the CLI writes as
 * Blobs (16-bit PNG, `.npy`, PLY), from the same pure encoders as in Node.
 */
import { ColormapName } from '../pipeline/colormap';
import { DEFAULT_FOCAL, Intrinsics, colorizeDepth, depthToNpy, depthToPointCloud, depthToUint16, pointCloudToPly } from '../pipeline/depth_outputs';
import { DepthMap } from '../pipeline/postprocess';
import { RgbImage } from '../pipeline/rgb';
import { encodePng } from './png';

/** The official colour image (min-max, then the colour map) as RGBA ImageData. */
export function depthToImageData(depth: DepthMap, colormap: ColormapName = 'spectral_r'): ImageData {
  const rgb = colorizeDepth(depth, colormap);
  const rgba = new Uint8ClampedArray(depth.width * depth.height * 4);
  for (let i = 0, n = depth.width * depth.height; i < n; i++) {
    rgba[i * 4] = rgb.data[i * 3];
    rgba[i * 4 + 1] = rgb.data[i * 3 + 1];
    rgba[i * 4 + 2] = rgb.data[i * 3 + 2];
    rgba[i * 4 + 3] = 255;
  }
  return new ImageData(rgba, depth.width, depth.height);
}

/** Draws the colour-mapped depth into a canvas, resizing the canvas to the depth's size. */
export function drawDepth(canvas: HTMLCanvasElement | OffscreenCanvas, depth: DepthMap, colormap: ColormapName = 'spectral_r'): void {
  canvas.width = depth.width;
  canvas.height = depth.height;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new Error('drawDepth: this canvas gives no 2D context');
  ctx.putImageData(depthToImageData(depth, colormap), 0, 0);
}

/** 16-bit greyscale PNG: relative depth min-max to 0..65535, metric depth in millimetres (as the CLI). */
export async function depthToPng16Blob(depth: DepthMap): Promise<Blob> {
  return new Blob([(await encodePng(depthToUint16(depth), depth.width, depth.height, 'grey16')) as BlobPart], { type: 'image/png' });
}

/** Raw float32 depth [height, width], for `np.load`. */
export function depthToNpyBlob(depth: DepthMap): Blob {
  return new Blob([depthToNpy(depth) as BlobPart], { type: 'application/octet-stream' });
}

/** Coloured point cloud (metric models only), binary PLY, as the official depth_to_pointcloud.py. */
export function depthToPlyBlob(depth: DepthMap, image: RgbImage, intrinsics: Intrinsics = { fx: DEFAULT_FOCAL, fy: DEFAULT_FOCAL }): Blob {
  return new Blob([pointCloudToPly(depthToPointCloud(depth, image, intrinsics)) as BlobPart], { type: 'application/octet-stream' });
}

/** Colour-mapped depth as an 8-bit RGB PNG. */
export async function depthToColorPngBlob(depth: DepthMap, colormap: ColormapName = 'spectral_r'): Promise<Blob> {
  const rgb = colorizeDepth(depth, colormap);
  return new Blob([(await encodePng(rgb.data, rgb.width, rgb.height, 'rgb8')) as BlobPart], { type: 'image/png' });
}
