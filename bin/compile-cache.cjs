'use strict';
// Loads the CLI's CommonJS bundles so that a call does not compile them
// again. On Node 22.1+ that is Node's own module compile cache
// (module.enableCompileCache(): in os.tmpdir()/node-compile-cache, or
// $NODE_COMPILE_CACHE, written on first use and kept per Node version), and
// a bundle is a plain require(). Node 20 has none: there the bundles load
// with V8's code cache that the build (`make`) saved next to each one after a
// warm-up of the code most calls run (`save`). V8 refuses a cache made by
// another Node version (the bundle then compiles as usual), which is why
// Node 22+ does not use it: a build under one Node and a run under another
// would get nothing. Measured in bench/README.md ("Start-up"); this V8 path
// goes when Node 20 support does.
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { Script } = require('node:vm');
const { createRequire, enableCompileCache } = require('node:module');

/** Bundles loaded by this process, by path: their scripts, and their exports. */
const loaded = new Map();

function readCache(file) {
  try {
    return readFileSync(`${file}.cache`);
  } catch {
    return undefined;
  }
}

/** The exports of the bundle at `file` (absolute), loaded once per process. */
function loadWithV8Cache(file) {
  const known = loaded.get(file);
  if (known) return known.exports;
  const source = readFileSync(file, 'utf8');
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  // No import() callback: code from a cache would lose it, so a bundle must
  // require() what it does not hold (scripts/bundle-cli.mjs checks).
  const script = new Script(wrapped, { filename: file, cachedData: readCache(file) });
  const module = { exports: {} };
  loaded.set(file, { script, exports: module.exports });
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  loaded.get(file).exports = module.exports;
  return module.exports;
}

if (enableCompileCache) {
  enableCompileCache();
  exports.load = (file) => require(file);
  /** Node writes its own cache: nothing to save. */
  exports.save = () => {};
} else {
  exports.load = loadWithV8Cache;
  /** Saves the code cache of every bundle this process loaded (the build's last step). */
  exports.save = () => {
    for (const [file, { script }] of loaded) writeFileSync(`${file}.cache`, script.createCachedData());
  };
}
