/**
 * The dashboard's one page, built in memory at start: the HTML shell with
 * its style and the front end's bundle (dist/ui/web.js, made by
 * scripts/bundle-ui.mjs from src/ui/web/) inline, so nothing is fetched from
 * anywhere but this server (no CDN: it works offline), no URL maps to a file
 * (no path traversal), and the Content-Security-Policy allows exactly these
 * two inline blocks by hash and connections to this origin only.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import { STYLE } from './style.js';

export const WEB_BUNDLE = join(PACKAGE_ROOT, 'dist', 'ui', 'web.js');

const sha = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

export function pageDocument(bundle: string = readBundle()): { html: string; csp: string } {
  // A bundle cannot close its own script element.
  const script = bundle.replace(/<\/script/gi, '<\\/script');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vpcctl</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body><div id="app"></div><script>${script}</script></body></html>`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha(script)}`,
    `style-src ${sha(STYLE)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

function readBundle(): string {
  try {
    return readFileSync(WEB_BUNDLE, 'utf8');
  } catch {
    throw new Error(`the dashboard's page is not built (${WEB_BUNDLE} is missing): run 'make build'`);
  }
}
