/** The demo's model presets (web/presets.ts) are the official models the library downloads (src/node/hub.ts). */
import { MODEL_PRESETS, NOT_IN_THE_PAGE, presetSize, presetUrl, presetsFor } from '../../web/presets';
import { OFFICIAL_MODELS, modelUrl } from '../../src/node/hub';

describe('demo model presets', () => {
  const depthModels = Object.entries(OFFICIAL_MODELS).filter(([name]) => !name.startsWith('seg-') && !NOT_IN_THE_PAGE.includes(name));

  it('offer every official depth model the page runs (not DA3\'s single-image ones), by its name, repository, file and licence', () => {
    expect([...NOT_IN_THE_PAGE]).toEqual(['da3mono-large', 'da3metric-large']);
    expect(MODEL_PRESETS.map((p) => p.name).sort()).toEqual(depthModels.map(([name]) => name).sort());
    for (const [name, m] of depthModels) {
      const p = MODEL_PRESETS.find((x) => x.name === name)!;
      expect({ repo: p.repo, file: p.file, licence: p.licence }).toEqual({ repo: m.repo, file: m.file, licence: m.licence });
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
      'da3-small 137 MB Apache-2.0 relative', 'da3-base 541 MB Apache-2.0 relative', 'da3-large 1.6 GB CC-BY-NC-4.0 relative',
      'da3-large-1.1 1.6 GB CC-BY-NC-4.0 relative', 'da3-giant 5.3 GB CC-BY-NC-4.0 relative', 'da3-giant-1.1 5.3 GB CC-BY-NC-4.0 relative',
      'vda-small 114 MB Apache-2.0 relative', 'vda-base 452 MB CC-BY-NC-4.0 relative', 'vda-large 1.5 GB CC-BY-NC-4.0 relative',
      'vda-metric-small 114 MB Apache-2.0 metric', 'vda-metric-base 452 MB CC-BY-NC-4.0 metric', 'vda-metric-large 1.5 GB CC-BY-NC-4.0 metric',
    ]);
  });

  it('each mode lists its own: one photo the V1/V2 models, several photos DA3, live video VDA', () => {
    expect(presetsFor('multiview').map((p) => p.url)).toEqual(MODEL_PRESETS.filter((p) => p.name.startsWith('da3')).map((p) => presetUrl(p)));
    expect(presetsFor('stream').map((p) => p.label)[0]).toBe('Video Depth Anything Small (114 MB, Apache-2.0)');
    expect(MODEL_PRESETS.filter((p) => p.mode === 'single').every((p) => /^(v1|v2|metric)/.test(p.name))).toBe(true);
  });
});
