import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VpcctlError } from '../errors.js';
import { native } from '../native.js';
import { STATE_VERSION, emptyState, type State } from './types.js';

export const DEFAULT_STATE_DIR = '/var/lib/vpcctl';

export const stateDirFrom = (explicit?: string): string =>
  explicit ?? process.env.VPCCTL_STATE_DIR ?? DEFAULT_STATE_DIR;

/**
 * One versioned JSON file, replaced atomically (write + rename) and changed
 * only under an exclusive lock, so concurrent invocations queue instead of
 * losing each other's updates. The lock is flock(2) on `lock` next to it: the
 * kernel releases it when its holder exits, crash or not, so no run ever
 * waits out a stale lock.
 */
export class StateStore {
  readonly file: string;
  constructor(readonly dir: string) {
    this.file = join(dir, 'state.json');
  }

  async read(): Promise<State> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
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
    // Compact: every call reads it, and with hundreds of subnets indentation doubles it ('jq .' reads it indented).
    await writeFileAtomic(this.file, JSON.stringify(state) + '\n', { mode: 0o600 });
  }

  /** Run `fn` holding the lock; other vpcctl processes wait (up to a minute) for their turn. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let lock;
    try {
      lock = await (await native()).lockFile(join(this.dir, 'lock'), LOCK_WAIT_MS);
    } catch (e) {
      if (e instanceof VpcctlError) throw e;
      throw new VpcctlError('STATE', `state ${this.dir} is busy: another vpcctl is running (${(e as Error).message})`);
    }
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }
}

const LOCK_WAIT_MS = 60_000;
