import { da3ParityOn } from './parity_suite';

da3ParityOn('wasm');
