import { VDA_CASES } from '../fixture_cases';
import { vdaParityOn } from './parity_suite';

// The plain-JS cpu backend: the model case. The pipeline and streaming cases take about 90 s and
// 50 s more there on 2 cores (VDA_CPU_FULL=1 adds them); wasm runs every case.
vdaParityOn('cpu', process.env.VDA_CPU_FULL ? VDA_CASES : ['vda-tiny']);
