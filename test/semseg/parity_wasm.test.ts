import { segParityOn } from './parity_suite';

segParityOn('wasm');
