import { parityOn } from './parity_suite';

parityOn('wasm');
