/**
 * `depth-anything preprocess IMAGE --out input.safetensors`: the exact network input (the
 * official `image2tensor`: [1, 3, H, W] float32, normalised) for comparing a port against
 * PyTorch without running a model.
 */
import * as path from 'path';
import { Command } from 'commander';
import { decodeImage } from '../node/image';
import { preprocess, toNchw } from '../pipeline/preprocess';
import { writeOutputFile } from '../node/outputs';
import { serializeSafetensors } from '../io/safetensors';
import { inputSizeArg } from './predict';

interface PreprocessCliOptions {
  inputSize: number;
  out: string;
}

export function registerPreprocess(program: Command): void {
  program
    .command('preprocess')
    .description('write the exact network input of an image ([1, 3, H, W] float32 "input", as the official image2tensor) to safetensors')
    .argument('<image>', 'image file')
    .option('--input-size <n>', 'network input lower bound, a multiple of 14', inputSizeArg, 518)
    .requiredOption('--out <file>', 'output .safetensors file')
    .action(async (image: string, opts: PreprocessCliOptions) => {
      const rgb = await decodeImage(image);
      const input = preprocess(rgb, { inputSize: opts.inputSize });
      const bytes = serializeSafetensors(
        [{ name: 'input', shape: [1, 3, input.height, input.width], data: toNchw(input) }],
        { source: path.basename(image), image_size: JSON.stringify([rgb.height, rgb.width]), input_size: String(opts.inputSize) },
      );
      await writeOutputFile(opts.out, bytes, 'safetensors');
      process.stderr.write(`${image} (${rgb.width}x${rgb.height}) -> ${opts.out}: input [1, 3, ${input.height}, ${input.width}]\n`);
    });
}
