import { join } from 'node:path';

/**
 * Where a state lives. Its own module because the launcher's early read
 * (cli/early.ts) must find the state without loading the store.
 */
export const DEFAULT_STATE_DIR = '/var/lib/vpcctl';

/** `--state-dir`, else $VPCCTL_STATE_DIR, else the default. */
export const stateDirFrom = (explicit?: string, env: NodeJS.ProcessEnv = process.env): string =>
  explicit ?? env.VPCCTL_STATE_DIR ?? DEFAULT_STATE_DIR;

/** The state file of a state dir. */
export const stateFileOf = (dir: string): string => join(dir, 'state.json');
