/**
 * depth-anything-tfjs: Depth Anything (V1, V2, V2 metric, V1 metric with ZoeDepth's head) on TensorFlow.js.
 *
 *   import { DepthAnything } from 'depth-anything-tfjs';
 *   const model = await DepthAnything.load('depth_anything_v2_vits.pth');
 *   const { data, width, height, metric } = await model.predict('photo.jpg');
 *   model.dispose();
 */

// The one-call API.
export { DepthAnything } from './node/depth_anything';
export type { LoadOptions, PredictOptions, WeightsInMemory, EncodedImage, FeatureMap } from './node/depth_anything';

// Images in, depth out.
export { decodeImage, loadImage, ImageError, MAX_INPUT_PIXELS } from './node/image';
export type { ImageInput, RgbImage } from './node/image';
export { preprocess, targetSize, toInputTensor, toNchw, DEFAULT_PREPROCESS, PreprocessError } from './pipeline/preprocess';
export type { PreprocessConfig, NetworkInput } from './pipeline/preprocess';
export { resizeBilinearAlignCorners } from './pipeline/postprocess';
export type { DepthMap } from './pipeline/postprocess';
export { colormapTable, normalizeToUint8, applyColormap, COLORMAP_NAMES } from './pipeline/colormap';
export type { ColormapName } from './pipeline/colormap';
export {
  depthToNpy, depthToUint16, depthToPng16, colorizeDepth, sideBySide, rgbToPng, depthToPointCloud, pointCloudToPly,
  writeOutputFile, OutputError, OUTPUT_FORMATS, DEFAULT_FOCAL,
} from './node/outputs';
export type { OutputFormat, Intrinsics } from './node/outputs';

// Video in, depth out (Node, system ffmpeg).
export { predictVideoFile, predictVideoFrames, videoOutputNames } from './node/video/run';
export type { VideoPredictOptions, VideoDepthFrame, VideoOutputOptions, VideoRunResult } from './node/video/run';
export { probeVideo, VideoError, MAX_VIDEO_PIXELS } from './node/video/probe';
export type { VideoInfo } from './node/video/probe';
export { decodeFrames, VideoDamagedError } from './node/video/decode';
export type { FrameSelection, DecodedFrame } from './node/video/decode';
export { NORMALIZE_MODES, AlignedNormalizer, frameNormalizer, videoNormalizer, toLevels8, toLevels16 } from './node/video/normalize';
export type { NormalizeMode } from './node/video/normalize';
export { FlickerMeter } from './node/video/flicker';
export { NpyStackWriter } from './node/video/npy_stack';

// The model as functions over explicit weights.
export { bindWeights, disposeWeights, forward, encode } from './depth/depth_anything';
export type { DepthAnythingWeights, EncodedFeatures } from './depth/depth_anything';
// V1 metric models (ZoeDepth head): the official ways to run them on RGB in [0, 1].
export { zoeDepth } from './depth/zoedepth';
export { inferZoe, evalInferZoe } from './pipeline/zoe_infer';
export type { ZoeInferOptions } from './pipeline/zoe_infer';
export type { ZoeDepthConfig } from './config/zoedepth';

// Configuration, weights, backends, file formats.
export { VARIANTS, officialConfig, configFromJson, configToJson, isMetric, depthKind, ConfigError } from './config/depth';
export type { ModelConfig, VariantName, Version, EncoderName } from './config/depth';
export { loadWeightsFile } from './node/weights_file';
export type { LoadedWeights } from './node/weights_file';
export { StateDictReader, WeightsError } from './weights/state_dict';
export type { StateDict, RawTensor } from './weights/state_dict';
export { initBackend, BACKEND_NAMES } from './backends/node';
export type { BackendName, BackendInfo } from './backends/node';
export { parseSafetensors, serializeSafetensors, entryToFloat32, SafetensorsError } from './io/safetensors';
export type { ParsedSafetensors, SafetensorsEntry, TensorToWrite } from './io/safetensors';
export { encodeNpy, decodeNpy, NpyError } from './io/npy';
export { encodePly, decodePly } from './io/ply';
export type { PointCloud } from './io/ply';

// Evaluation: metrics, alignment, protocols, datasets.
export { computeMetrics, meanMetrics, METRIC_NAMES, EvalError } from './eval/metrics';
export type { DepthMetrics, MetricName } from './eval/metrics';
export { fitScaleShift, alignDisparityToDepth } from './eval/align';
export { evaluateImage, validMask, cropWindow, CROP_NAMES } from './eval/protocols';
export type { CropName, ProtocolName, RangeAndCrop } from './eval/protocols';
export { listSamples, readGroundTruth, DATASET_PRESETS, DATASET_KINDS, DatasetError } from './node/eval/datasets';
export type { DatasetKind, DepthSample } from './node/eval/datasets';
export { evaluateDataset, evaluateSample } from './node/eval/run';
export type { EvalSettings, EvalReport, ImageReport, DepthPredictor } from './node/eval/run';
export { train, TrainDivergedError, type TrainOptions, type TrainResult, type StepMetrics as TrainStepMetrics, type EpochMetrics as TrainEpochMetrics, type TrainRecipeName } from './node/train_run';

// Video Depth Anything: the offline pipeline (windows of 32) and the streaming mode.
export { VideoDepthAnything, isVdaWeightsFile } from './node/video_depth_anything';
export type { VdaLoadOptions } from './node/video_depth_anything';
export { VdaSession } from './pipeline/vda_session';
export type { VdaOptions } from './pipeline/vda_session';
export { VideoDepthPipeline, VideoPipelineError, vdaInputSize, vdaPreprocess } from './pipeline/vda_video';
export type { WindowRunner, PipelineRecorder, VideoPipelineOptions } from './pipeline/vda_video';
export type { SequencePredictor, VideoModel } from './node/video/run';
export { VDA_VARIANTS, VDA_PIPELINE, vdaConfig, vdaConfigFromJson, vdaConfigToJson } from './config/vda';
export type { VdaConfig, VdaVariantName, TemporalConfig } from './config/vda';
export { resolveVdaConfig } from './weights/vda_detect';

// Depth Anything 3: depth, confidence and cameras from one or several views; the exported scene.
export { DepthAnything3, metricDepth } from './node/depth_anything3';
export type { Da3LoadOptions, Da3Inference, Da3InferenceOptions } from './node/depth_anything3';
export { Da3Session } from './pipeline/da3_session';
export { da3Scene } from './pipeline/da3/scene';
export { encodeDa3SceneGlb, encodeDa3ScenePly, encodeDa3CamerasJson } from './pipeline/da3/scene_files';
export { writeDa3SceneFiles } from './node/da3_scene_files';
export { DA3_VARIANTS, da3ConfigFromJson } from './config/da3';
export type { Da3Config, Da3VariantName } from './config/da3';

// Semantic segmentation (Mask2Former on the Depth Anything encoder, mmseg checkpoints).
export { Segmenter } from './node/segmenter';
export type { Segmentation, SegmentOptions, SegmenterLoadOptions } from './node/segmenter';
export { SEG_VARIANTS } from './config/semseg';
export type { SegConfig } from './config/semseg';
export { ADE20K_METAINFO, CITYSCAPES_METAINFO } from './semseg/metainfo';
