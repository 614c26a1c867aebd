// Preloaded (node --require) by missing_webgpu.test.ts: resolving the optional `webgpu` package
// fails as it does where it is not installed.
const Module = require('module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'webgpu' || request.startsWith('webgpu/')) {
    const e = new Error(`Cannot find module '${request}'`);
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  return resolve.call(this, request, ...rest);
};
