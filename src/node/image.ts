/**
 * Image decoding (Node only: sharp/libvips). Produces what the official code gets from
 * `cv2.imread(path)` followed by `cv2.cvtColor(BGR2RGB)`: 8-bit RGB, alpha dropped (not blended),
 * grey replicated to three channels, 16-bit reduced to 8-bit, EXIF orientation applied, the
 * first frame of an animation, and no colour management (OpenCV ignores ICC profiles).
 */
import sharp from 'sharp';

import { ImageError, MAX_INPUT_PIXELS, RgbImage, isRgbImage, validateRgb } from '../pipeline/rgb';

export { ImageError, MAX_INPUT_PIXELS, isRgbImage, validateRgb };
export type { RgbImage };

/** A path, encoded file bytes, or already decoded RGB pixels. */
export type ImageInput = string | Uint8Array | RgbImage;

/**
 * Decodes a file or buffer (JPEG, PNG, WebP, TIFF, GIF, AVIF...) to 8-bit RGB. `autoOrient`
 * (default true, as cv2.imread) applies the EXIF orientation; Depth Anything 3 loads with PIL's
 * `Image.open(path).convert("RGB")`, which does not, so its pipeline passes false.
 */
export async function decodeImage(input: string | Uint8Array, source = typeof input === 'string' ? input : '<buffer>', options: { autoOrient?: boolean } = {}): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(input, {
      autoOrient: options.autoOrient ?? true,
      ignoreIcc: true, // as cv2.imread: no colour management
      pages: 1,
      page: 0,
      failOn: 'error',
      limitInputPixels: MAX_INPUT_PIXELS,
    })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, 3 expected`);
    return validateRgb({ data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height }, source);
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const msg = (e as Error).message;
    const code = (e as NodeJS.ErrnoException).code;
    if (/Input file is missing/.test(msg) || code === 'ENOENT') throw new ImageError(source, 'file not found');
    if (/exceeds pixel limit/.test(msg)) throw new ImageError(source, `image is larger than ${MAX_INPUT_PIXELS} pixels`);
    if (/unsupported image format/.test(msg)) throw new ImageError(source, 'not a supported image (JPEG, PNG, WebP, TIFF, GIF, AVIF)');
    throw new ImageError(source, `cannot decode image: ${msg}`);
  }
}

/** Accepts any `ImageInput`; decoded pixels are validated and passed through. */
export async function loadImage(input: ImageInput): Promise<RgbImage> {
  if (isRgbImage(input)) return validateRgb(input);
  if (typeof input === 'string' || input instanceof Uint8Array) return decodeImage(input);
  throw new ImageError('<input>', 'expected a file path, encoded image bytes, or {data: Uint8Array, width, height}');
}
