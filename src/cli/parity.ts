/** `depth-anything parity`: compare this port, layer by layer, with a recorded PyTorch reference. */
import { promises as fs } from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { configFromMetadata, loadWeightsFile } from '../weights/load';
import { bindWeights, disposeWeights } from '../depth_anything';
import { ParsedSafetensors, parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { formatParityReport, runParity } from '../parity';
import { backendOption, readConfigFile, startBackend, threadsOption } from './common';
import { writeFileAtomic } from '../io/atomic';
import { segParityCommand } from '../semseg/parity';
import { isSegWeightsFile } from '../semseg/weights';

/** One reference from several files (a key in more than one keeps the first file's tensor). */
function mergeReferences(refs: ParsedSafetensors[]): ParsedSafetensors {
  if (refs.length === 1) return refs[0];
  const tensors = new Map(refs[0].tensors);
  for (const r of refs.slice(1)) for (const [k, v] of r.tensors) if (!tensors.has(k)) tensors.set(k, v);
  return { ...refs[0], source: refs.map((r) => r.source).join(' + '), tensors };
}

interface ParityOptions {
  weights: string;
  config?: string;
  reference: string[];
  backend: string;
  threads?: number;
  dump?: string;
  json?: boolean;
}

export function registerParity(program: Command): void {
  program
    .command('parity')
    .description('run the model on a reference\'s input and compare every recorded tensor (relative L2, max abs)')
    .requiredOption('--weights <file>', 'weights file (official key names)')
    .option('--config <file>', 'model configuration (fixtures\' config.json schema); default: from the weights or the reference metadata')
    .requiredOption('--reference <files...>', 'activations recorded from the official code (safetensors: input, output, module paths); more files add their tensors. An infer.safetensors beside the first (V1 metric pipeline values) is added by default')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print the comparison as one JSON object (ok, comparisons, notComputed) instead of the table')
    .option('--dump <file>', 'write every tensor computed, under the reference\'s names, in PyTorch layouts (safetensors)')
    .action(async (opts: ParityOptions) => {
      await startBackend(opts.backend, opts.threads);
      if (await isSegWeightsFile(opts.weights)) {
        if (opts.reference.length !== 1) throw new Error(`parity for segmentation weights takes one --reference file; got ${opts.reference.length}`);
        return segParityCommand({ ...opts, reference: opts.reference[0] });
      }
      const loaded = await loadWeightsFile(opts.weights);
      const files = [...opts.reference];
      const beside = path.join(path.dirname(files[0]), 'infer.safetensors');
      if (!files.some((f) => path.resolve(f) === path.resolve(beside)) && (await fs.stat(beside).catch(() => undefined))?.isFile()) files.push(beside);
      const refs = [];
      for (const file of files) {
        let refBytes: Buffer;
        try {
          refBytes = await fs.readFile(file);
        } catch (e) {
          throw new Error(`cannot read reference ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        refs.push(parseSafetensors(refBytes, file));
      }
      const reference = mergeReferences(refs);
      const cfg = opts.config ? await readConfigFile(opts.config) : loaded.config ?? configFromMetadata(reference);
      if (!cfg) throw new Error(`no model configuration: ${opts.weights} and ${opts.reference} carry none; pass --config FILE`);
      const w = bindWeights(loaded.stateDict, cfg, loaded.source);
      try {
        const report = await runParity(w, cfg, reference);
        if (opts.json) {
          const { ok, comparisons, notComputed } = report;
          process.stdout.write(`${JSON.stringify({ ok, comparisons, notComputed })}\n`);
        } else {
          console.log(formatParityReport(report));
        }
        if (opts.dump) {
          await writeFileAtomic(opts.dump, serializeSafetensors(report.computed, { source: path.basename(opts.weights), reference: files.map((f) => path.basename(f)).join(',') }));
          process.stderr.write(`wrote ${report.computed.length} tensors to ${opts.dump}\n`);
        }
        process.exitCode = report.ok ? 0 : 1;
      } finally {
        disposeWeights(w);
      }
    });
}
