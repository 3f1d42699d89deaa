import { join, resolve } from 'node:path';
import { fingerprint } from '../fingerprint.js';

/**
 * Where the text of a state's full plan is cached (drift.ts, planText).
 * Its own module because the launcher's early read (cli/early.ts) reads
 * that file before the CLI loads.
 */
export const CACHE_FILE = 'full-plan.json';

/**
 * Where the cache of a state dir lives: under /run (volatile, like the
 * namespaces it describes), never beside the state, so it never competes
 * with the state for space on a full disk. `VPCCTL_CACHE_DIR` moves it.
 */
export const cacheDirOf = (stateDir: string): string =>
  join(process.env.VPCCTL_CACHE_DIR ?? '/run/vpcctl/cache', fingerprint(resolve(stateDir)));

/** The cached full plan of a state dir: a line with its key, then the plan's JSON. */
export const cacheFileOf = (stateDir: string): string => join(cacheDirOf(stateDir), CACHE_FILE);
