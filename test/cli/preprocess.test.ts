import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli as run } from './run_cli';
import { parseSafetensors, entryToFloat32 } from '../../src/io/safetensors';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');


let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-pre-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

test.each([['portrait', 'image.png'], ['large-input-size', 'image.jpg']])('preprocess %s writes the official network input', async (name, file) => {
  const caseDir = path.join(FIXTURES, 'preprocess', name);
  const { input_size: inputSize } = JSON.parse(await fs.readFile(path.join(caseDir, 'case.json'), 'utf8')) as { input_size: number };
  const out = path.join(dir, 'input.safetensors');
  const { code, err } = await run('preprocess', path.join(caseDir, file), '--input-size', String(inputSize), '--out', out);
  expect(code).toBe(0);
  expect(err).toMatch(/-> .*input\.safetensors: input \[1, 3, \d+, \d+\]/);
  const ours = parseSafetensors(await fs.readFile(out)).tensors.get('input')!;
  const ref = parseSafetensors(await fs.readFile(path.join(caseDir, 'expected.safetensors'))).tensors.get('input')!;
  expect([ours.dtype, ours.shape]).toEqual(['F32', ref.shape]);
  const a = entryToFloat32(ours), b = entryToFloat32(ref);
  let worst = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]; if (d > worst) worst = d; }
  expect(worst).toBeLessThanOrEqual(1e-4);
});

test('errors: unreadable image, bad input size; nothing written', async () => {
  const out = path.join(dir, 'x.safetensors');
  await fs.writeFile(path.join(dir, 'bad.png'), 'garbage');
  await expect(run('preprocess', path.join(dir, 'bad.png'), '--out', out)).rejects.toThrow(`${path.join(dir, 'bad.png')}: not a supported image`);
  const size = await run('preprocess', path.join(dir, 'bad.png'), '--input-size', '15', '--out', out);
  expect(size.code).toBe(1);
  expect(size.err).toContain('input size must be a positive multiple of 14');
  expect(await fs.readdir(dir)).toEqual(['bad.png']);
});
