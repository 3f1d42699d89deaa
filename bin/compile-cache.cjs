'use strict';
// Loads the CLI's CommonJS bundles with V8's code cache, so a call skips
// compiling them (Node 20 has no module compile cache of its own). The build
// (`make`) loads them, runs a warm-up of the code most calls run, and saves
// each bundle's cache next to it (`save`), so the cache also holds those
// functions compiled. V8 checks that a cache fits the source, this Node and
// its flags; when one does not, that bundle compiles as usual.
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { Script } = require('node:vm');
const { createRequire } = require('node:module');

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
exports.load = (file) => {
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
};

/** Saves the code cache of every bundle this process loaded (the build's last step). */
exports.save = () => {
  for (const [file, { script }] of loaded) writeFileSync(`${file}.cache`, script.createCachedData());
};
