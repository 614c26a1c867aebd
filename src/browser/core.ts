/**
 * depth-anything-tfjs in the browser, without tfjs backends: import the ones you want
 * ('@tensorflow/tfjs-backend-webgl', '-webgpu', '-wasm', '-cpu') before loading a model.
 * `depth-anything-tfjs` (index.ts) is this plus all four.
 */
export { DepthAnything } from './depth_anything';
export { DepthAnything3 } from './depth_anything3';
export type { Da3BrowserLoadOptions } from './depth_anything3';
export { metricDepth } from '../pipeline/da3_session';
export type { Da3Inference, Da3InferenceOptions } from '../pipeline/da3_session';
export { da3Scene } from '../pipeline/da3/scene';
export { encodeDa3SceneGlb, encodeDa3ScenePly, encodeDa3CamerasJson } from '../pipeline/da3/scene_files';
export type { BrowserLoadOptions, BrowserPredictOptions, BrowserWeightsInput, WeightsInMemory } from './depth_anything';
export { DepthAnythingWorker, WorkerError, WORKER_BUNDLE } from './worker_client';
export type { WorkerLoadOptions } from './worker_client';
export type { WorkerMemory } from './worker_protocol';
export { VideoDepthAnything, vdaFromBytes } from './video_depth_anything';
export type { VdaBrowserLoadOptions } from './video_depth_anything';
export { Da3Worker, VdaWorker } from './worker_models_client';
export type { ModelWorkerLoadOptions } from './worker_models_client';
export type { Da3WorkerResult, VdaWorkerFrame } from './worker_models_protocol';
export { initBrowserBackend, probeGpuBackend, provideWasmPathsSetter, BackendError, BROWSER_BACKENDS } from '../backends/browser';
export type { BrowserBackendName, BrowserBackendInfo, BrowserBackendOptions } from '../backends/browser';
export { fetchWeights, fetchWeightsWithIdentity, contentIdentity, sha256Hex, clearWeightsCache, cachedWeights, weightsFromBytes, WEIGHTS_CACHE } from './weights';
export type { FetchedWeights } from './weights';
export type { DownloadProgress, FetchWeightsOptions } from './weights';
export { loadBrowserImage, decodeBlob, drawableToRgb } from './image';
export type { BrowserImageInput } from './image';
export { depthToImageData, drawDepth, depthToPng16Blob, depthToNpyBlob, depthToPlyBlob, depthToColorPngBlob } from './outputs';
export { encodePng } from './png';

// The pure parts shared with Node.
export { ImageError, MAX_INPUT_PIXELS } from '../pipeline/rgb';
export type { RgbImage } from '../pipeline/rgb';
export { preprocess, targetSize, toInputTensor, DEFAULT_PREPROCESS, PreprocessError } from '../pipeline/preprocess';
export type { NetworkInput, PreprocessConfig } from '../pipeline/preprocess';
export { resizeBilinearAlignCorners } from '../pipeline/postprocess';
export type { DepthMap } from '../pipeline/postprocess';
export { colormapTable, normalizeToUint8, applyColormap, COLORMAP_NAMES } from '../pipeline/colormap';
export type { ColormapName } from '../pipeline/colormap';
export { depthToNpy, depthToUint16, colorizeDepth, sideBySide, depthToPointCloud, pointCloudToPly, DEFAULT_FOCAL, OutputError } from '../pipeline/depth_outputs';
export type { Intrinsics } from '../pipeline/depth_outputs';
export { bindWeights, disposeWeights, forward, encode } from '../depth/depth_anything';
export { VARIANTS, officialConfig, configFromJson, configToJson, isMetric, ConfigError } from '../config/depth';
export type { ModelConfig, VariantName, Version, EncoderName } from '../config/depth';
export { WeightsError } from '../weights/state_dict';
export type { StateDict, RawTensor } from '../weights/state_dict';
export { parseSafetensors, serializeSafetensors, SafetensorsError } from '../io/safetensors';
export { encodeNpy, decodeNpy } from '../io/npy';
export { encodePly } from '../io/ply';

// Video Depth Anything (platform-free): a webcam or video element's frames through streamFrame.
export { VdaSession } from '../pipeline/vda_session';
export type { VdaOptions } from '../pipeline/vda_session';
export { VideoDepthPipeline, vdaInputSize } from '../pipeline/vda_video';
export { VDA_VARIANTS, vdaConfigFromJson } from '../config/vda';
export type { VdaConfig } from '../config/vda';
export { resolveVdaConfig } from '../weights/vda_detect';
