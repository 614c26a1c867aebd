/**
 * Decoded images as the pipeline takes them (no decoder here: Node decodes with sharp in image.ts,
 * the browser with its own decoder in src/browser/image.ts).
 */

/** Interleaved 8-bit RGB, row-major: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export class ImageError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'ImageError';
  }
}

/**
 * Largest image accepted, in pixels. An 8000x6000 photo (48 MP) is fine; the float64 resize
 * buffers of a 100+ MP image are not. sharp refuses above this before decoding anything.
 */
export const MAX_INPUT_PIXELS = 100_000_000;

export function isRgbImage(v: unknown): v is RgbImage {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array)
    && (v as RgbImage).data instanceof Uint8Array
    && Number.isInteger((v as RgbImage).width) && Number.isInteger((v as RgbImage).height);
}

/** Checks that decoded pixels are what their size says. */
export function validateRgb(img: RgbImage, source = '<rgb>'): RgbImage {
  if (!(img.width > 0 && img.height > 0)) throw new ImageError(source, `image is ${img.width}x${img.height}; width and height must be positive`);
  if (img.data.length !== img.width * img.height * 3) {
    throw new ImageError(source, `RGB data has ${img.data.length} bytes; ${img.width}x${img.height}x3 = ${img.width * img.height * 3} expected`);
  }
  return img;
}
