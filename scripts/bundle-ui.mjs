// Bundle the dashboard's front end (src/ui/web/main.ts and what it imports:
// the layout and the graph's view helpers) into one browser script,
// dist/ui/web.js, which `vpcctl ui` inlines in its page (src/ui/page.ts).
// Nothing is loaded from a CDN: the page works offline.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/ui/web/main.ts'],
  outfile: 'dist/ui/web.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
