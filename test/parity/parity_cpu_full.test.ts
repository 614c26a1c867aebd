import { parityOn } from './parity_suite';

// The full-size V2-S case on the plain-JavaScript cpu backend: the longest test of the suite
// (about 12 minutes on 2 cores); test/sequencer.js starts it first.
parityOn('cpu', { only: ['v2-vits-full'] });
