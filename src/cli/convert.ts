/**
 * `depth-anything convert IN OUT`: any supported weights file (official .pth, Hugging Face
 * safetensors, our safetensors) -> our safetensors: official key names, PyTorch shapes, and the
 * configuration in `__metadata__.config`. Written tensor by tensor to a temporary file that is
 * renamed at the end, so memory holds the model once and a failure leaves no OUT.
 */
import * as path from 'path';
import { Command, Option } from 'commander';
import { ModelConfig, VARIANTS, Version, configToJson, depthKind } from '../config/depth';
import { downloadModel } from '../node/hub';
import { loadWeightsFile } from '../node/weights_file';
import { OutDtype, writeSafetensorsFile } from '../node/safetensors_file';
import { detectArchitecture } from '../weights/detect';
import { WeightsError } from '../weights/state_dict';
import { progressReporter } from './download';
import { convertSegWeights } from './convert_seg';
import { isSegWeightsFile } from '../node/seg_weights';


export interface ConvertOptions {
  version?: Version;
  maxDepth?: number;
  /** Path to a configuration in the fixtures' schema. */
  config?: string;
  /** Path to a Hugging Face config.json. */
  hfConfig?: string;
  dtype?: OutDtype;
}

export interface ConvertSummary {
  variant: string;
  config: ModelConfig;
  configFrom: string;
  format: string;
  parameters: number;
  tensors: number;
  dtype: OutDtype;
  bytes: number;
}

/** The official variant this configuration is, if any (`v2-vits`, `v2-metric-hypersim-vitl`, ...). */
export function variantName(cfg: ModelConfig): string | undefined {
  const want = JSON.stringify(configToJson(cfg));
  return Object.entries(VARIANTS).find(([, v]) => JSON.stringify(configToJson(v)) === want)?.[0];
}

/** Converts `input` to our safetensors at `output`; throws (leaving no output) on any problem. */
export async function convertWeights(input: string, output: string, opts: ConvertOptions = {}): Promise<ConvertSummary> {
  const loaded = await loadWeightsFile(input, {
    version: opts.version, maxDepth: opts.maxDepth, config: opts.config, hfConfig: opts.hfConfig,
  });
  // The loader tolerates partial state dicts; a converted file must be a whole model.
  detectArchitecture(loaded.stateDict, input);
  if (!loaded.config) throw new WeightsError(loaded.configProblem ?? `${input}: cannot tell the model configuration`);
  const dtype = opts.dtype ?? 'f32';
  const metadata = {
    format: 'official',
    config: JSON.stringify(configToJson(loaded.config)),
    converted_from: path.basename(input),
  };
  const bytes = await writeSafetensorsFile(output, loaded.stateDict, metadata, dtype);
  let parameters = 0;
  for (const t of loaded.stateDict.values()) parameters += t.data.length;
  return {
    variant: variantName(loaded.config) ?? `custom (${loaded.config.version}, ${loaded.config.encoder}-like, embed ${loaded.config.embedDim}, depth ${loaded.config.depth})`,
    config: loaded.config,
    configFrom: loaded.configFrom ?? '',
    format: loaded.format ?? 'safetensors',
    parameters,
    tensors: loaded.stateDict.size,
    dtype,
    bytes,
  };
}

export function formatSummary(s: ConvertSummary, output: string): string {
  const mb = (s.bytes / 1e6).toFixed(1);
  const params = s.parameters >= 1e6 ? `${(s.parameters / 1e6).toFixed(1)}M` : String(s.parameters);
  const metric = depthKind(s.config);
  return [
    `wrote ${output}`,
    `  variant:    ${s.variant} (${metric}; configuration from ${s.configFrom})`,
    `  source:     ${s.format}`,
    `  parameters: ${params} in ${s.tensors} tensors`,
    `  dtype:      ${s.dtype}`,
    `  size:       ${mb} MB`,
  ].join('\n');
}

interface CliOptions {
  model?: string;
  version?: Version;
  maxDepth?: string;
  config?: string;
  hfConfig?: string;
  dtype: OutDtype;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert official .pth or Hugging Face weights to safetensors with the configuration in its metadata')
    .argument('[in]', 'weights file: .pth, Hugging Face model.safetensors, or ours')
    .argument('[out]', 'output .safetensors file')
    .option('--model <name>', 'download an official checkpoint by name (v2-small, v1-large, metric-indoor-base, ...) instead of IN')
    .addOption(new Option('--version <v>', 'V1 or V2 (when the file name does not tell)').choices(['v1', 'v2']))
    .option('--max-depth <m>', 'metric model: maximum depth in metres (when the file name does not tell)')
    .option('--config <file>', 'model configuration (fixtures\' config.json schema), for non-standard sizes')
    .option('--hf-config <file>', 'Hugging Face config.json (default: config.json beside IN)')
    .addOption(new Option('--dtype <d>', 'stored dtype: f32, f16, or q8 (int8 Linear/Conv kernels with per-channel scales; lossy, a quarter of f32)').choices(['f32', 'f16', 'q8']).default('f32'))
    .action(async (a: string | undefined, b: string | undefined, opts: CliOptions) => {
      let input: string;
      let output: string | undefined;
      if (opts.model) {
        if (b !== undefined) throw new Error('convert --model NAME takes only OUT, not IN as well');
        output = a;
        input = (await downloadModel(opts.model, { onProgress: progressReporter(opts.model) })).path;
      } else {
        if (a === undefined || b === undefined) throw new Error('convert needs IN and OUT (or --model NAME and OUT)');
        input = a;
        output = b;
      }
      if (output === undefined) throw new Error('convert needs an OUT file');
      let maxDepth: number | undefined;
      if (opts.maxDepth !== undefined) {
        maxDepth = Number(opts.maxDepth);
        if (!(maxDepth > 0)) throw new Error(`--max-depth must be a positive number of metres, got "${opts.maxDepth}"`);
      }
      if (path.resolve(input) === path.resolve(output)) throw new Error(`OUT ${output} would overwrite IN`);
      if (await isSegWeightsFile(input)) {
        console.log(await convertSegWeights(input, output, { config: opts.config, dtype: opts.dtype }));
        return;
      }
      const summary = await convertWeights(input, output, {
        version: opts.version, maxDepth, config: opts.config, hfConfig: opts.hfConfig, dtype: opts.dtype,
      });
      console.log(formatSummary(summary, output));
    });
}
