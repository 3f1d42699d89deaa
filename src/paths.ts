import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json is), from src/ under tsx or from dist/ when built. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('vpcctl: package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const PACKAGE_ROOT = packageRoot();
/** The built-in test app and HTTP client run inside namespaces: always the compiled JS. */
export const APP_SERVER = join(PACKAGE_ROOT, 'dist', 'app', 'server.js');
export const APP_FETCH = join(PACKAGE_ROOT, 'dist', 'app', 'fetch.js');
export const CLI_BIN = join(PACKAGE_ROOT, 'vpcctl');

/** The fields of package.json vpcctl reads about itself. */
export interface PackageJson {
  version: string;
  napi: { targets: string[] };
}

let pkg: PackageJson | undefined;
/** package.json, read once per process (the version and the platform check both need it). */
export function packageJson(): PackageJson {
  pkg ??= JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as PackageJson;
  return pkg;
}

/**
 * This build of vpcctl: the version and, in a build from source, when
 * `make build` last ran (dist/.stamp). What a build caches (the full plan
 * text, api/drift.ts) is keyed by it, so a newer planner never reads back a
 * plan an older one made for the same state.
 */
export function buildId(): string {
  let built = '';
  try {
    built = String(statSync(join(PACKAGE_ROOT, 'dist', '.stamp')).mtimeMs);
  } catch { /* an installed package: its version says it */ }
  return `${packageJson().version}+${built}`;
}
