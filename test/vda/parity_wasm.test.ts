import { VDA_CASES } from '../fixture_cases';
import { vdaParityOn } from './parity_suite';

vdaParityOn('wasm', VDA_CASES);
