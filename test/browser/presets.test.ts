/** The demo's model presets (web/presets.ts) are the official models the library downloads (src/node/hub.ts). */
import { MODEL_PRESETS, presetSize, presetUrl } from '../../web/presets';
import { OFFICIAL_MODELS, modelUrl } from '../../src/node/hub';

describe('demo model presets', () => {
  const depthModels = Object.entries(OFFICIAL_MODELS).filter(([name]) => !name.startsWith('seg-'));

  it('offer every official depth model, by its name, repository and file', () => {
    expect(MODEL_PRESETS.map((p) => p.name).sort()).toEqual(depthModels.map(([name]) => name).sort());
    for (const [name, m] of depthModels) {
      const p = MODEL_PRESETS.find((x) => x.name === name)!;
      expect({ repo: p.repo, file: p.file }).toEqual(m);
      expect(presetUrl(p)).toBe(modelUrl(m, {}));
    }
  });

  it('say their size, licence and output', () => {
    expect(MODEL_PRESETS.map((p) => `${p.name} ${presetSize(p)} ${p.licence} ${p.output}`)).toEqual([
      'v2-small 99 MB Apache-2.0 relative', 'v2-base 390 MB CC-BY-NC-4.0 relative', 'v2-large 1.3 GB CC-BY-NC-4.0 relative',
      'v1-small 99 MB Apache-2.0 relative', 'v1-base 390 MB Apache-2.0 relative', 'v1-large 1.3 GB Apache-2.0 relative',
      'metric-indoor-small 99 MB Apache-2.0 metric', 'metric-indoor-base 390 MB CC-BY-NC-4.0 metric', 'metric-indoor-large 1.3 GB CC-BY-NC-4.0 metric',
      'metric-outdoor-small 99 MB Apache-2.0 metric', 'metric-outdoor-base 390 MB CC-BY-NC-4.0 metric', 'metric-outdoor-large 1.3 GB CC-BY-NC-4.0 metric',
      'v1-metric-indoor 1.4 GB Apache-2.0 metric', 'v1-metric-outdoor 1.4 GB Apache-2.0 metric',
    ]);
  });
});
