import { packageJson } from '../paths.js';

/** The package's version, from package.json next to dist/. */
export function version(): string {
  return packageJson().version;
}
