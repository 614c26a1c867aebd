/**
 * `parity --browser` for the Depth Anything 3 and Video Depth Anything commands (parity_da3.ts,
 * parity_vda.ts): the parity page (src/verify/pages/parity_page.ts) in headless Chromium, given the
 * weights as safetensors (the file itself when it is one, else the state dict Node read, written as
 * float32 safetensors to a temporary file), the reference files, the inputs (PNG views or frames) and
 * what Node resolved (configuration, case settings) as plain data.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GpuAdapterInfo, describeAdapter } from '../backends/adapter';
import { serializeSafetensors } from '../io/safetensors';
import { StateDict } from '../weights/state_dict';

export interface ParityPageRun {
  backend?: string;
  flags?: Record<string, number | boolean>;
  weights: string;
  /** The state dict Node read, when `weights` is not a safetensors file the page can parse. */
  stateDict?: StateDict;
  references: string[];
  /** Input files (PNG views or frames), served as /files/input<i>, in this order. */
  inputs?: string[];
  dump: boolean;
  /** The page's kind-specific arguments (`da3`, `vda`), given the served inputs' URLs. */
  args: (inputs: { url: string; name: string }[]) => Record<string, unknown>;
}

export interface ParityPageResult { backend: string; adapter?: GpuAdapterInfo; ms: number }

export async function runParityPage<T extends ParityPageResult>(run: ParityPageRun): Promise<{ result: T; dump?: Buffer; chromium: string }> {
  const { runPageInChromium } = await import('../verify/browser_run');
  const backend = !run.backend || run.backend === 'auto' ? 'webgl' : run.backend;
  if (!['webgl', 'webgpu', 'cpu'].includes(backend)) throw new Error(`--browser runs webgl, webgpu or cpu in Chromium; "${backend}" is a Node backend`);
  let weightsFile = run.weights;
  let tmp: string | undefined;
  if (run.stateDict) {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'depth-anything-parity-'));
    weightsFile = path.join(tmp, 'weights.safetensors');
    await fs.writeFile(weightsFile, serializeSafetensors([...run.stateDict].map(([name, t]) => ({ name, shape: t.shape, data: t.data }))));
  }
  try {
    const inputs = run.inputs ?? [];
    const files: Record<string, string> = { weights: weightsFile };
    run.references.forEach((f, i) => { files[`reference${i}`] = f; });
    inputs.forEach((f, i) => { files[`input${i}`] = f; });
    const page = await runPageInChromium<T>('parity_page', {
      files,
      webgpu: backend === 'webgpu',
      args: {
        backend, flags: run.flags ?? {}, weightsUrl: '/files/weights', weightsName: path.basename(run.weights),
        references: run.references.map((f, i) => ({ url: `/files/reference${i}`, name: path.basename(f) })), dump: run.dump,
        ...run.args(inputs.map((f, i) => ({ url: `/files/input${i}`, name: path.basename(f) }))),
      },
    });
    const r = page.result;
    process.stderr.write(`backend: ${r.backend}${r.adapter ? ` (${describeAdapter(r.adapter)})` : ''} in ${page.chromium}, headless\n`);
    return { result: r, chromium: page.chromium, ...(page.bytes ? { dump: page.bytes } : {}) };
  } finally {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }
}
