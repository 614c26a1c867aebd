/**
 * A look for GPU hardware that starts nothing: plain file checks, no tfjs, no Dawn. The CLI's
 * launcher (src/cli/quiet_dawn.ts) and backend start-up (node.ts) both ask it.
 */
import { existsSync, readdirSync } from 'fs';

/**
 * Whether a GPU that Dawn could drive can exist here, looked up without starting Dawn (which costs
 * seconds and prints its own warnings): on Linux a DRM render node (/dev/dri/renderD*: Mesa,
 * AMD, Intel, NVIDIA's DRM driver) or NVIDIA's device files; other systems are assumed to have
 * one. `auto` skips WebGPU when this says no; `--backend webgpu` still tries.
 * DEPTH_ANYTHING_GPU_PROBE=always|never overrides the look (tests, unusual setups).
 */
export function hardwareGpuMayExist(): boolean {
  const forced = process.env.DEPTH_ANYTHING_GPU_PROBE;
  if (forced === 'always') return true;
  if (forced === 'never') return false;
  if (forced !== undefined && forced !== '') throw new Error(`DEPTH_ANYTHING_GPU_PROBE must be "always" or "never"; got "${forced}"`);
  if (process.platform !== 'linux') return true;
  try {
    if (readdirSync('/dev/dri').some((f) => f.startsWith('renderD'))) return true;
  } catch {
    // No /dev/dri: no DRM driver in this machine or container.
  }
  return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}
