/**
 * The fixture cases the suites run, by folder under ../shared/fixtures (no imports: the suites
 * that only read images use these too). Segmentation's list is SEG_CASES in
 * test/semseg/parity_suite.ts, beside the weights file each case is read from.
 * test/fixture_cases.test.ts fails when a case folder is in none of the lists.
 */

/** parity/: the DPT cases (every backend, test/parity; the configs, test/config.test.ts). */
export const PARITY_CASES = ['v2-tiny', 'v2-tiny-giantlike', 'v1-tiny', 'v2-tiny-metric', 'v2-vits-full'] as const;

/** parity/: the V1 metric (ZoeDepth) cases (every backend, test/zoedepth/parity.test.ts). */
export const V1_METRIC_CASES = ['v1-metric-indoor-tiny', 'v1-metric-normed-tiny'] as const;

/** preprocess/: decoding and the official image2tensor (test/pipeline/image.test.ts, preprocess.test.ts). */
export const PREPROCESS_CASES = ['tiny', 'small-upscale', 'portrait', 'large-input-size'] as const;

/** vda/: Video Depth Anything, the model on one window, the offline pipeline, streaming (test/vda). */
export const VDA_CASES = ['vda-tiny', 'vda-tiny-video', 'vda-tiny-stream'] as const;
/** da3/: Depth Anything 3, the any-view and mono networks (test/da3: parity on wasm, cpu and webgpu in Node). */
export const DA3_CASES = ['da3-tiny-anyview', 'da3-tiny-mono'] as const;
/** train/: the training recipes replayed step by step (test/train/replay.test.ts, cpu and wasm). */
export const TRAIN_CASES = ['train-metric-tiny', 'train-relative-tiny'] as const;
