/** Segmentation outputs: label PNG (class index), colour PNG (dataset palette), overlay, logits .npy. */
import sharp from 'sharp';
import { encodeNpy } from '../io/npy';
import type { RgbImage } from '../pipeline/rgb';
import { Segmentation } from './segmenter';

export type SegOutputFormat = 'labels' | 'color' | 'overlay' | 'npy';
export const SEG_OUTPUT_FORMATS: readonly SegOutputFormat[] = ['labels', 'color', 'overlay', 'npy'];

export const SEG_OUTPUT_NAMES: Record<SegOutputFormat, { suffix: string; kind: 'png' | 'npy' }> = {
  labels: { suffix: '_labels.png', kind: 'png' },
  color: { suffix: '_seg.png', kind: 'png' },
  overlay: { suffix: '_overlay.png', kind: 'png' },
  npy: { suffix: '_logits.npy', kind: 'npy' },
};

/** Class indices as a greyscale PNG: 8-bit up to 256 classes, else 16-bit. */
export async function labelsToPng(seg: Segmentation): Promise<Uint8Array> {
  const img = sharp(seg.labels, { raw: { width: seg.width, height: seg.height, channels: 1 } });
  return img.toColourspace(seg.labels instanceof Uint16Array ? 'grey16' : 'b-w').png().toBuffer();
}

/** Each pixel in its class's palette colour. */
export function colorizeLabels(seg: Segmentation): RgbImage {
  const data = new Uint8Array(seg.width * seg.height * 3);
  for (let i = 0; i < seg.labels.length; i++) {
    const c = seg.palette[seg.labels[i]] ?? [0, 0, 0];
    data[3 * i] = c[0];
    data[3 * i + 1] = c[1];
    data[3 * i + 2] = c[2];
  }
  return { data, width: seg.width, height: seg.height };
}

/** The image blended with the colour segmentation: image (1 - alpha) + colour alpha, truncated to uint8. */
export function overlay(image: RgbImage, color: RgbImage, alpha = 0.5): RgbImage {
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.trunc(image.data[i] * (1 - alpha) + color.data[i] * alpha);
  return { data, width: image.width, height: image.height };
}

/** The logits [K, H, W] as float32 .npy. */
export function logitsToNpy(seg: Segmentation): Uint8Array {
  if (!seg.logits) throw new Error('no logits: segment with { logits: true }');
  return encodeNpy(seg.logits, [seg.classes.length, seg.height, seg.width]);
}
