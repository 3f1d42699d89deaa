// Bundle the CLI into one CommonJS file, dist/bundle/cli.cjs, which the
// launcher bin/vpcctl.cjs requires. Why CommonJS: on Node 20 the ES module
// loader costs every call ~20-30 ms (its resolver, async loading through
// fs/promises, linking each chunk) before vpcctl runs a line; require() of a
// single file is a read and a compile. Packages only some commands use
// (yaml, tables, progress bars) stay external and are required from
// node_modules on first use. zod is too big for either: required from
// node_modules it is ~90 files to resolve and compile (~150 ms of an
// `apply`), and inside the bundle it would cost every other call ~20 ms to
// read and deserialize. So it gets a bundle of its own, dist/bundle/zod.cjs,
// loaded (through bin/compile-cache.cjs) by the commands that validate
// documents. That bundle holds only the zod functions the sources call (found
// in the compiled files that import zod): all of zod, locales included, is
// ~0.75 MB bundled, what vpcctl uses ~0.2 MB, and loading it costs 13-18 ms
// less CPU per call that validates (bench/README.md, "Start-up"). esbuild
// cannot drop the rest itself: the sources use zod's `z` namespace export.
// The library (dist/index.js) stays ES modules.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

// A package may load a heavy Node module at load time for a case the CLI
// never meets; it gets a stand-in here:
//  - commander requires node:child_process (which drags in net and dgram,
//    5-7 ms of CPU per call, bench/README.md) for executable subcommands
//    vpcctl does not have: the stand-in loads the real module on first use.
// (write-file-atomic had one for worker_threads; the state store no longer uses it.)
const STAND_INS = {
  'node:child_process': {
    importer: /[\\/]commander[\\/]/,
    contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
  },
};
const standIns = {
  name: 'stand-ins',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      STAND_INS[args.path].importer.test(args.importer) ? { path: args.path, namespace: 'stand-in' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'stand-in' }, (args) => ({ contents: STAND_INS[args.path].contents, loader: 'js' }));
  },
};

// `zod` inside the CLI bundle: dist/bundle/zod.cjs, through the code cache.
const zodBundle = {
  name: 'zod-bundle',
  setup(b) {
    b.onResolve({ filter: /^zod$/ }, () => ({ path: 'zod', namespace: 'zod-bundle' }));
    b.onResolve({ filter: /compile-cache\.cjs$/ }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'zod-bundle' }, () => ({
      contents: "module.exports = require('../../bin/compile-cache.cjs').load(require('node:path').join(__dirname, 'zod.cjs'));",
      loader: 'js',
    }));
  },
};

// The zod functions the CLI's sources call, as `z.name` (types are erased).
const ZOD_USERS = ['dist/model/schema.js', 'dist/state/schema.js'];
const zodNames = new Set();
for (const file of ZOD_USERS) {
  const js = readFileSync(file, 'utf8');
  if (!/from 'zod'/.test(js)) throw new Error(`${file} no longer imports zod: update ZOD_USERS in ${import.meta.url}`);
  for (const [, name] of js.matchAll(/\bz\.([A-Za-z_$][\w$]*)/g)) zodNames.add(name);
}
const zodEntry = `import * as zod from 'zod';\nexport const z = { ${[...zodNames].sort().map((n) => `${n}: zod.${n}`).join(', ')} };\n`;

await build({
  stdin: { contents: zodEntry, resolveDir: '.', loader: 'js' },
  outfile: 'dist/bundle/zod.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});

const { metafile } = await build({
  entryPoints: ['dist/cli/main.js'],
  metafile: true,
  outfile: 'dist/bundle/cli.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['yaml', 'cli-table3', 'cli-progress', 'etcd3'],
  logLevel: 'warning',
  plugins: [standIns, zodBundle],
  // The sources locate files from import.meta.url (ES modules); here it is this file's URL.
  define: { 'import.meta.url': '__vpcctlUrl' },
  banner: { js: "const __vpcctlUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// The launcher's early read (src/cli/early.ts), required before cli.cjs: a
// few kB that start the kernel read of `apply` and `status` while the CLI
// loads. Plain require, no code cache: compiling it costs less than a cache would save.
const early = await build({
  entryPoints: ['dist/cli/early.js'],
  metafile: true,
  outfile: 'dist/bundle/early.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  define: { 'import.meta.url': '__vpcctlUrl' },
  banner: { js: "const __vpcctlUrl = require('node:url').pathToFileURL(__filename).href;" },
});
const earlyBytes = Object.values(early.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
if (earlyBytes > 64 * 1024) throw new Error(`dist/bundle/early.cjs is ${earlyBytes} bytes: it loads before every call, keep it to what early.ts needs`);

// Code loaded from V8's cache cannot import(): every package the bundle does
// not hold must be require()d (createRequire in an ES module source).
for (const [input, { imports }] of Object.entries(metafile.inputs)) {
  const bad = imports.find((i) => i.kind === 'dynamic-import' && i.external);
  if (bad) throw new Error(`${input}: import('${bad.path}') of a package the bundle leaves out: require() it instead (bin/compile-cache.cjs)`);
}

// Under Node 20, V8's code caches for both bundles (bin/compile-cache.cjs),
// warmed with the code most calls run (main.ts, warmUp); Node 22+ keeps its
// own compile cache and saves nothing here.
const require = createRequire(import.meta.url);
const cache = require('../bin/compile-cache.cjs');
await cache.load(resolve('dist/bundle/cli.cjs')).warmUp();
cache.save();
