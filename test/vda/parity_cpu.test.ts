import { vdaParityOn } from './parity_suite';

// The plain-JS cpu backend: the model and the streaming case. The offline pipeline's three
// 32-frame windows take about 90 s there on 2 cores (VDA_CPU_VIDEO=1 adds it); wasm runs it.
vdaParityOn('cpu', process.env.VDA_CPU_VIDEO ? ['vda-tiny', 'vda-tiny-video', 'vda-tiny-stream'] : ['vda-tiny', 'vda-tiny-stream']);
