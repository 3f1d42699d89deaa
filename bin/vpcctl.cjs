#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// vpcctl's command line: a thin layer over the library, bundled into
// dist/bundle/cli.cjs by `make`. `./vpcctl` links here.
//
// Four choices keep a call's start-up cheap (README, "Benchmark";
// bench/README.md, "Start-up", measures them):
//  - CommonJS, so Node 20 never starts its ES module loader for the CLI;
//  - a compile cache for the bundle (compile-cache.cjs: Node's own on 22+);
//  - NODE_EXTRA_CA_CERTS is dropped before Node starts: Node 20 parses that
//    bundle eagerly at start-up (~100 ms for a distribution's CA set), and
//    vpcctl makes no TLS connection;
//  - for `apply` and `status`, the kernel read they end on starts first, on
//    native threads, while the CLI loads (src/cli/early.ts).
'use strict';
const { join } = require('node:path');

const bundle = (name) => join(__dirname, '..', 'dist', 'bundle', name);

try {
  require(bundle('early.cjs')).startEarlyRead(process.argv);
} catch { /* not built yet: said below */ }

let cli;
try {
  cli = require('./compile-cache.cjs').load(bundle('cli.cjs'));
} catch (e) {
  const missing = e.code === 'ENOENT' && String(e.path).endsWith('cli.cjs');
  process.stderr.write(`vpcctl: ${missing ? "not built yet: run 'make build' (or 'sudo make demo')" : e.message}\n`);
  process.exit(1);
}
cli.main(process.argv).then((code) => { process.exitCode = code; });
