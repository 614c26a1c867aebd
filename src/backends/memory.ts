/**
 * What a backend holds, for leak checks: tf.memory()'s tensors and data buffers plus, on the GPU
 * backends, the textures (webgl) or GPU buffers (webgpu) in use; tfjs recycles freed ones into a
 * pool, so "in use" is the count that must return to where it was.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface BackendMemory {
  numTensors: number;
  numDataBuffers: number;
  /** webgl: textures in use; webgpu: GPU buffers in use. */
  gpuResources?: number;
  numBytesInGPU?: number;
}

export function backendMemory(): BackendMemory {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  const b = tf.backend() as unknown as {
    textureManager?: { getNumUsedTextures?(): number };
    bufferManager?: { getNumUsedBuffers?(): number };
  };
  const name = tf.getBackend();
  const gpu = name === 'webgpu' ? b.bufferManager?.getNumUsedBuffers?.() : name === 'webgl' ? b.textureManager?.getNumUsedTextures?.() : undefined;
  return {
    numTensors: m.numTensors, numDataBuffers: m.numDataBuffers,
    ...(gpu !== undefined ? { gpuResources: gpu } : {}),
    ...(m.numBytesInGPU !== undefined ? { numBytesInGPU: m.numBytesInGPU } : {}),
  };
}
