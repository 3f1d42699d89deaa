#!/usr/bin/env node
// Prints `name@version` of every package the published vpcctl installs
// (package-lock.json, dev packages left out), for `npm cache add` in
// `make test-deps`: test/integration/package.test.ts installs the packed
// package offline (the sandbox has no network), so npm needs each one's
// registry metadata in its cache, which `npm ci` (lockfile, tarballs only)
// never puts there.
import { readFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
const specs = Object.entries(lock.packages)
  .filter(([path, p]) => path && !p.dev && !p.devOptional)
  .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')}@${p.version}`);
console.log(specs.join(' '));
