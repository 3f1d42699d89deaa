// Bundle the CLI into dist/bundle/: one module graph instead of ~60 files and
// their packages, so each `vpcctl` call spends less time resolving and
// compiling modules. Dynamic imports (zod, yaml, graph, doctor, demo) stay
// separate chunks, loaded only by the commands that need them. The library
// (dist/index.js) is left unbundled.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // Bundled CommonJS packages use require() and __filename: give the ESM bundle both.
  banner: {
    js: [
      "import { createRequire as __vpcctlRequire } from 'node:module';",
      "import { fileURLToPath as __vpcctlPath } from 'node:url';",
      'const require = __vpcctlRequire(import.meta.url);',
      'const __filename = __vpcctlPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
});
