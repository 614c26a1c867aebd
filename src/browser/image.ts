/**
 * Images in a page, decoded by the browser to the RGB the pipeline takes (what Node gets from
 * sharp/OpenCV): EXIF orientation applied (`imageOrientation: 'from-image'`), no colour management
 * (`colorSpaceConversion: 'none'`, as cv2.imread ignores ICC profiles), alpha dropped. Chromium's
 * JPEG decoder is libjpeg-turbo, like OpenCV's, so JPEG pixels match (see docs/browser.md's measurement).
 * Canvases keep premultiplied alpha, so colours under semi-transparent pixels may differ by a level.
 */
import { ImageError, MAX_INPUT_PIXELS, RgbImage, isRgbImage, validateRgb } from '../pipeline/rgb';

export type BrowserImageInput =
  | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap | ImageData | HTMLVideoElement | VideoFrame
  | Blob | string | Uint8Array | RgbImage;

function rgbaToRgb(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    data[i * 3] = rgba[j];
    data[i * 3 + 1] = rgba[j + 1];
    data[i * 3 + 2] = rgba[j + 2];
  }
  return { data, width, height };
}

function context2d(width: number, height: number): CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D {
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
  // willReadFrequently: a CPU-backed canvas, read back exactly.
  const ctx = canvas.getContext('2d', { willReadFrequently: true, colorSpace: 'srgb' }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new ImageError('<canvas>', 'this browser gives no 2D canvas context');
  return ctx;
}

function sizeOf(src: CanvasImageSource): { width: number; height: number } {
  if (typeof HTMLImageElement !== 'undefined' && src instanceof HTMLImageElement) return { width: src.naturalWidth, height: src.naturalHeight };
  if (typeof HTMLVideoElement !== 'undefined' && src instanceof HTMLVideoElement) return { width: src.videoWidth, height: src.videoHeight };
  if (typeof VideoFrame !== 'undefined' && src instanceof VideoFrame) return { width: src.displayWidth, height: src.displayHeight };
  const s = src as { width: number; height: number };
  return { width: s.width, height: s.height };
}

/** Pixels of anything drawable, through a 2D canvas. */
export function drawableToRgb(src: CanvasImageSource, source = '<image>'): RgbImage {
  const { width, height } = sizeOf(src);
  if (!(width > 0 && height > 0)) throw new ImageError(source, `image is ${width}x${height} (not loaded yet, or empty)`);
  if (width * height > MAX_INPUT_PIXELS) throw new ImageError(source, `image is larger than ${MAX_INPUT_PIXELS} pixels`);
  const ctx = context2d(width, height);
  ctx.drawImage(src, 0, 0);
  return rgbaToRgb(ctx.getImageData(0, 0, width, height).data, width, height);
}

/** Decodes encoded bytes (JPEG, PNG, WebP, GIF, AVIF, BMP) with the browser's decoders. */
export async function decodeBlob(blob: Blob, source = (blob as File).name || '<blob>'): Promise<RgbImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new ImageError(source, 'cannot decode this image (not a JPEG, PNG, WebP, GIF, AVIF or BMP the browser can read, or a damaged file)');
  }
  try {
    return drawableToRgb(bitmap, source);
  } finally {
    bitmap.close();
  }
}

async function fetchImage(url: string): Promise<Blob> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch {
    throw new ImageError(url, 'cannot download the image (network error, or the server does not allow cross-origin requests: CORS)');
  }
  if (!res.ok) throw new ImageError(url, `cannot download the image: HTTP ${res.status}`);
  return res.blob();
}

/** Any supported input to 8-bit RGB. */
export async function loadBrowserImage(input: BrowserImageInput): Promise<RgbImage> {
  if (isRgbImage(input)) return validateRgb(input);
  if (typeof input === 'string') return decodeBlob(await fetchImage(input), input);
  if (input instanceof Uint8Array) return decodeBlob(new Blob([input as BlobPart]), '<bytes>');
  if (typeof Blob !== 'undefined' && input instanceof Blob) return decodeBlob(input);
  if (typeof ImageData !== 'undefined' && input instanceof ImageData) return rgbaToRgb(input.data, input.width, input.height);
  if (typeof HTMLImageElement !== 'undefined' && input instanceof HTMLImageElement) {
    const name = input.currentSrc || input.src || '<img>';
    try {
      await input.decode();
    } catch {
      throw new ImageError(name, 'cannot decode this image');
    }
    return drawableToRgb(input, name);
  }
  return drawableToRgb(input as CanvasImageSource);
}
