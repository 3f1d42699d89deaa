import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VpcctlError } from '../errors.js';
import { STATE_VERSION, emptyState, type State } from './types.js';

export const DEFAULT_STATE_DIR = '/var/lib/vpcctl';

export const stateDirFrom = (explicit?: string): string =>
  explicit ?? process.env.VPCCTL_STATE_DIR ?? DEFAULT_STATE_DIR;

/**
 * One versioned JSON file, replaced atomically (write + rename) and changed
 * only under an exclusive lock, so concurrent invocations queue instead of
 * losing each other's updates.
 */
export class StateStore {
  readonly file: string;
  constructor(readonly dir: string) {
    this.file = join(dir, 'state.json');
  }

  async read(): Promise<State> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(process.env.VPCCTL_TRANSIT_POOL);
      throw new VpcctlError('STATE', `cannot read state ${this.file}: ${(e as Error).message}`);
    }
    let state: State;
    try {
      state = JSON.parse(text) as State;
    } catch (e) {
      throw new VpcctlError('STATE', `state ${this.file} is corrupt (${(e as Error).message}); 'vpcctl cleanup-all' removes everything vpcctl made`);
    }
    if (state.version !== STATE_VERSION) {
      throw new VpcctlError('STATE', `state ${this.file} has version ${String(state.version)}, this vpcctl reads ${STATE_VERSION}`);
    }
    state.pending ??= [];
    return state;
  }

  /** Replace the state; `restore` puts back an earlier state as it was, revision included. */
  async write(state: State, opts: { restore?: boolean } = {}): Promise<void> {
    if (!opts.restore) state.revision = (state.revision ?? 0) + 1;
    // Loaded on first write: read-only commands never pay for it.
    const { default: writeFileAtomic } = await import('write-file-atomic');
    await writeFileAtomic(this.file, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  }

  /** Run `fn` holding the lock; other vpcctl processes wait (up to a minute) for their turn. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const { default: lockfile } = await import('proper-lockfile');
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.file, {
        realpath: false,
        // A crashed vpcctl leaves its lock; a live one refreshes it every 2 s.
        stale: 10_000,
        update: 2_000,
        retries: { retries: 600, factor: 1.2, minTimeout: 10, maxTimeout: 100 },
      });
    } catch (e) {
      throw new VpcctlError('STATE', `state ${this.dir} is locked by another vpcctl: ${(e as Error).message}`);
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }
}
