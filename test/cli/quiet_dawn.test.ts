/**
 * The launcher's filter of Dawn's own warnings (src/cli/quiet_dawn.ts): which command lines may
 * start Dawn, and a stream with Dawn's lines cut anywhere loses exactly those lines. The webgpu
 * parity suite checks a real Dawn run through the launcher (test/parity/parity_suite.ts).
 */
import { DawnWarningFilter, dawnMayStart } from '../../src/cli/quiet_dawn';

const DAWN = [
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.\n',
  'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.\n',
];
const OURS = 'model: v2 vits (width 32) from weights.safetensors; backend: webgpu\n[1/1] a.png -> out/a_depth.png (1.20 s)\n';

/** Feeds `text` to a filter in pieces of `size` characters. */
function filtered(text: string, size: number): string {
  const f = new DawnWarningFilter();
  let out = '';
  for (let i = 0; i < text.length; i += size) out += f.push(text.slice(i, i + size));
  return out + f.end();
}

describe('Dawn warning filter', () => {
  test.each([1, 3, 7, 64, 10_000])('cuts exactly Dawn\'s lines, whatever the chunking (%i characters a chunk)', (size) => {
    expect(filtered(DAWN.join('') + OURS, size)).toBe(OURS);
    expect(filtered(`${OURS}${DAWN[0]}${OURS}${DAWN[1]}`, size)).toBe(OURS + OURS);
    // A line of ours that merely starts like one is kept, and a last line without a newline too.
    expect(filtered('Warn about nothing\nWarning-free\ndone', size)).toBe('Warn about nothing\nWarning-free\ndone');
  });

  test('a progress line redrawn with \\r is passed on at once, not held for its newline', () => {
    const f = new DawnWarningFilter();
    expect(f.push('\r 40% |####')).toBe('\r 40% |####');
    expect(f.push('\r 80% |########')).toBe('\r 80% |########');
    expect(f.push('\n')).toBe('\n');
    expect(f.push('W')).toBe(''); // may still become Dawn's
    expect(f.push('ork done\n')).toBe('Work done\n');
  });

  test('which command lines may start Dawn', () => {
    const env = process.env.DEPTH_ANYTHING_GPU_PROBE;
    try {
      process.env.DEPTH_ANYTHING_GPU_PROBE = 'never';
      expect(dawnMayStart(['predict', 'a.png', '--backend', 'webgpu'])).toBe(true);
      expect(dawnMayStart(['predict', 'a.png', '--backend=webgpu'])).toBe(true);
      expect(dawnMayStart(['bench', '--backends', 'wasm,webgpu'])).toBe(true);
      expect(dawnMayStart(['predict', 'a.png'])).toBe(false); // auto, and no GPU can be here
      expect(dawnMayStart(['predict', 'a.png', '--backend', 'wasm'])).toBe(false);
      expect(dawnMayStart(['parity', '--browser', '--backend', 'webgpu'])).toBe(false); // Chromium's WebGPU
      process.env.DEPTH_ANYTHING_GPU_PROBE = 'always';
      expect(dawnMayStart(['predict', 'a.png'])).toBe(true);
      expect(dawnMayStart(['predict', 'a.png', '--backend', 'auto'])).toBe(true);
      expect(dawnMayStart(['predict', 'a.png', '--backend', 'cpu'])).toBe(false);
    } finally {
      if (env === undefined) delete process.env.DEPTH_ANYTHING_GPU_PROBE;
      else process.env.DEPTH_ANYTHING_GPU_PROBE = env;
    }
  });
});
