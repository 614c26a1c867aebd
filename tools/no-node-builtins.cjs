'use strict';
// esbuild plugin shared by tools/build-browser.mjs, tools/bundle-sizes.mjs and test/browser/bundle.test.ts.
/**
 * Node built-ins (and sharp, yauzl) are an error when our own code imports them: they would only
 * fail at run time in a page. Dependencies (tfjs) reference some behind runtime checks and map
 * them to nothing in their package.json "browser" field, which esbuild honours for them.
 */
module.exports = {
  name: 'no-node-builtins',
  setup(build) {
    // weights/torch_zip.ts opens files through io/zip.ts (yauzl) only when given a path; pages pass the bytes.
    build.onResolve({ filter: /^\.\.\/io\/zip$/ }, (args) => (/torch_zip\.ts$/.test(args.importer) ? { path: 'zip', namespace: 'node-only' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'node-only' }, () => ({
      contents: "export const ZipArchive = { open() { throw new Error('reading a .pth from a path needs Node; in a page pass its bytes'); } };",
      loader: 'js',
    }));
    build.onResolve({ filter: /^(node:)?(fs|path|os|zlib|worker_threads|child_process|crypto|stream|util|url|http|https|net|buffer|events|module|perf_hooks|sharp|yauzl|commander|cli-progress|fast-glob|puppeteer-core)(\/.*)?$/ }, (args) => {
      if (/[\\/]node_modules[\\/]/.test(args.importer) && !/^(sharp|yauzl)/.test(args.path)) return undefined;
      return { errors: [{ text: `'${args.path}' (Node only) imported from ${args.importer} is not allowed in the browser bundle` }] };
    });
  },
};
