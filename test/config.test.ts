import { readFileSync } from 'fs';
import * as path from 'path';
import { ConfigError, VARIANTS, configFromJson, configToJson } from '../src/config/depth';
import { swigluHidden } from '../src/dinov2/swiglu_ffn';
import { FIXTURES, PARITY_CASES } from './helpers';

describe('configuration', () => {
  test.each([...PARITY_CASES])('the fixtures\' %s config.json reads and round-trips', (name) => {
    const json = JSON.parse(readFileSync(path.join(FIXTURES, 'parity', name, 'config.json'), 'utf8'));
    const cfg = configFromJson(json, name);
    expect(cfg.embedDim).toBe(json.embed_dim);
    expect(cfg.intermediateLayers).toEqual(json.layers);
    expect(cfg.maxDepth).toBe(json.max_depth);
    expect(configFromJson(configToJson(cfg))).toEqual(cfg);
  });

  test('official variants: sizes and the blocks that feed the head', () => {
    expect(VARIANTS['v2-vitl'].intermediateLayers).toEqual([4, 11, 17, 23]);
    expect(VARIANTS['v2-vitg'].intermediateLayers).toEqual([9, 19, 29, 39]);
    expect(VARIANTS['v2-vitg'].ffn).toBe('swiglu');
    expect(VARIANTS['v1-vitl'].intermediateLayers).toEqual([20, 21, 22, 23]);
    expect(VARIANTS['v1-vitb'].intermediateLayers).toEqual([8, 9, 10, 11]);
    expect(VARIANTS['v2-vitb'].outChannels).toEqual([96, 192, 384, 768]);
    expect(VARIANTS['v2-metric-vkitti-vitl'].maxDepth).toBe(80);
    expect(VARIANTS['v2-metric-hypersim-vits'].maxDepth).toBe(20);
    expect(VARIANTS['v2-vits'].maxDepth).toBeUndefined();
    // The giant's fused SwiGLU hidden width: (int(4C * 2/3) + 7) // 8 * 8.
    expect(swigluHidden(1536)).toBe(4096);
    expect(swigluHidden(48)).toBe(128);
  });

  test('a minimal config takes the official sizes of its encoder', () => {
    expect(configFromJson({ version: 'v2', encoder: 'vitl' })).toEqual(VARIANTS['v2-vitl']);
    expect(configFromJson({ version: 'v1', encoder: 'vits' })).toEqual(VARIANTS['v1-vits']);
  });

  test.each([
    [{ version: 'v3', encoder: 'vits' }, '"version" must be "v1" or "v2", got "v3"'],
    [{ version: 'v2', encoder: 'vitx' }, '"encoder" must be one of vits, vitb, vitl, vitg, got "vitx"'],
    [{ version: 'v2', encoder: 'vits', layers: [1, 2] }, '"layers" must list 4 block indices'],
    [{ version: 'v2', encoder: 'vits', layers: [1, 2, 3, 12] }, '"layers" entry 12 is not a block index below depth 12'],
    [{ version: 'v2', encoder: 'vits', embed_dim: 100 }, 'embed_dim 100 is not divisible by heads 6'],
    [{ version: 'v2', encoder: 'vits', features: 0 }, '"features" must be a positive integer, got 0'],
    [{ version: 'v2', encoder: 'vits', max_depth: -1 }, '"max_depth" must be positive'],
  ])('refuses %j', (json, message) => {
    expect(() => configFromJson(json, 'my.json')).toThrow(ConfigError);
    expect(() => configFromJson(json, 'my.json')).toThrow(`my.json: ${message}`);
  });
});
