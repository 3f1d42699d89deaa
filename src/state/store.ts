import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { VpcctlError } from '../errors.js';
import { NotReadable, readRegular } from '../regular-file.js';
import { native } from '../native.js';
import { fileId, replaceFile, restoreFile, sameFile, type FileId } from './durable.js';
import { isSealed, seal } from './seal.js';
import { STATE_VERSION, emptyState, type State } from './types.js';
import { stateFileOf } from './dir.js';

export { DEFAULT_STATE_DIR, stateDirFrom } from './dir.js';

/**
 * A state file's text. Anything but a regular file in its place (a FIFO
 * would block the read forever, /dev/zero never end it) is refused, as a
 * StateProblem, before a byte is read.
 */
function readStateText(file: string): string {
  try {
    return readRegular(file).toString('utf8');
  } catch (e) {
    if (e instanceof NotReadable) throw new StateProblem(`state ${file} is ${e.kind}, not a regular file`);
    throw e;
  }
}

/** "no space left on device (ENOSPC)" from Node's "ENOSPC: no space left on device, write". */
const reasonOf = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException;
  const text = /^[A-Z]+: ([^,]+)/.exec(err.message)?.[1] ?? err.message;
  return err.code && !text.includes(err.code) ? `${text} (${err.code})` : text;
};

/**
 * One versioned JSON file, replaced durably (durable.ts: complete writes,
 * fsync of file and directory, rename) and changed only under an exclusive
 * lock, so concurrent invocations queue instead of losing each other's
 * updates. The lock is flock(2) on `lock` next to it: the kernel releases it
 * when its holder exits, crash or not, so no run ever waits out a stale lock.
 *
 * `state.json.bak` is the state as it was before the last command that
 * changed it: every error about the state says how to put it back.
 */
export class StateStore {
  readonly file: string;
  readonly backup: string;
  constructor(readonly dir: string) {
    this.file = stateFileOf(dir);
    this.backup = `${this.file}.bak`;
  }

  async read(): Promise<State> {
    let text: string;
    try {
      text = readStateText(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(process.env.VPCCTL_TRANSIT_POOL);
      throw await this.error(e instanceof StateProblem ? e.message : `cannot read state ${this.file}: ${reasonOf(e)}`);
    }
    let state: State;
    try {
      state = await this.parse(text, this.file);
    } catch (e) {
      throw e instanceof StateProblem ? await this.error(e.message) : e;
    }
    delete (state as { checksum?: unknown }).checksum;
    state.pending ??= [];
    return state;
  }

  /** The state in `text`; a StateProblem (one line, naming `file`) when it is not one. */
  private async parse(text: string, file: string): Promise<State> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new StateProblem(`state ${file} is corrupt (${(e as Error).message})`);
    }
    const version = (value as { version?: unknown } | null)?.version;
    if (version !== undefined && version !== STATE_VERSION) {
      throw new StateProblem(`state ${file} has version ${String(version)}, this vpcctl reads ${STATE_VERSION}`);
    }
    // A file vpcctl sealed is trusted as is; anything else gets the schema (and zod's load).
    if (isSealed(text)) return value as State;
    const { checkState } = await import('./schema.js');
    const checked = checkState(value);
    if ('problem' in checked) throw new StateProblem(`state ${file} is not a valid vpcctl state: ${checked.problem}`);
    return checked.state;
  }

  /** A STATE error whose message ends with how to get back to a good state. */
  async error(message: string): Promise<VpcctlError> {
    return new VpcctlError('STATE', `${message}; ${await this.restoreHint()}`);
  }

  /** How to recover: copy the backup back when it is a good state, else start over. */
  async restoreHint(): Promise<string> {
    try {
      await this.parse(readStateText(this.backup), this.backup);
      return `the previous state is in ${this.backup}: cp ${this.backup} ${this.file}`;
    } catch {
      return `no good backup (${this.backup}): 'vpcctl cleanup-all' removes everything vpcctl made`;
    }
  }

  /** Replace the state; `restore` puts back an earlier state as it was, revision included. */
  async write(state: State, opts: { restore?: boolean } = {}): Promise<void> {
    await this.transaction().write(state, opts);
  }

  /**
   * Writes that belong to one command: the first keeps the file it replaces
   * as the backup, and `revert` puts that file back.
   */
  transaction(): StateTransaction {
    return new StateTransaction(this, fileId(this.file));
  }

  /** Run `fn` holding the lock; other vpcctl processes wait (up to a minute) for their turn. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    let lock;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      lock = await (await native()).lockFile(join(this.dir, 'lock'), LOCK_WAIT_MS);
    } catch (e) {
      if (e instanceof VpcctlError && !e.native) throw e; // the native module did not load
      const busy = !(e instanceof VpcctlError) || e.native === 'BUSY';
      throw this.unwritable(e) ?? (busy ? new VpcctlError('STATE', `state ${this.dir} is busy: another vpcctl is running (${(e as Error).message})`) : e);
    }
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /**
   * Who holds the lock now, without waiting and without making a lock file:
   * undefined when nobody does, else the pid the holder wrote (null if
   * unreadable). A command starting meanwhile waits a few milliseconds.
   */
  async holder(): Promise<{ pid: number | null } | undefined> {
    const h = await (await native()).lockHolder(join(this.dir, 'lock'));
    return h ? { pid: h.pid ?? null } : undefined;
  }

  /**
   * This store for steps that run while the caller holds the lock, so that
   * several steps (apply's change, then the apps it starts) make one lock
   * session: its `locked` runs `fn` at once. Taking the lock again would
   * wait for ourselves (flock is per open file, not per process).
   */
  held(): StateStore {
    return new HeldStore(this.dir);
  }

  /** The error for a state dir vpcctl cannot write in at all, if that is why `e` happened. */
  unwritable(e: unknown): VpcctlError | undefined {
    let code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') {
      try {
        accessSync(this.dir, constants.W_OK);
        return undefined;
      } catch (err) {
        code = (err as NodeJS.ErrnoException).code;
      }
    }
    const fix = "vpcctl keeps its state there: make it writable, or pass --state-dir (or VPCCTL_STATE_DIR)";
    if (code === 'EROFS') return new VpcctlError('STATE', `state dir ${this.dir} is read-only: ${fix}`);
    if (code === 'EACCES' || code === 'EPERM') return new VpcctlError('STATE', `state dir ${this.dir} is not writable (${code}): ${fix}`);
    return undefined;
  }
}

export class StateTransaction {
  constructor(private readonly store: StateStore, private readonly original: FileId | null) {}

  async write(state: State, opts: { restore?: boolean } = {}): Promise<void> {
    const { file, backup } = this.store;
    if (!opts.restore) state.revision = (state.revision ?? 0) + 1;
    try {
      // Compact: every call reads it ('jq .' shows it indented). Only the
      // first write of the command rotates the backup: later ones replace
      // this command's own file.
      const first = !!this.original && sameFile(fileId(file), this.original);
      replaceFile(file, seal(state), { mode: 0o600, backup: first ? backup : undefined });
    } catch (e) {
      throw this.store.unwritable(e) ?? new VpcctlError('STATE', `cannot save state ${file}: ${reasonOf(e)}`);
    }
  }

  /** Put state.json back as it was when the transaction began (byte for byte); false if that cannot be done. */
  revert(): boolean {
    try {
      return restoreFile(this.store.file, this.store.backup, this.original);
    } catch {
      return false;
    }
  }
}

/** See StateStore.held: the lock is already the caller's. */
class HeldStore extends StateStore {
  override locked<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
}

const LOCK_WAIT_MS = 60_000;

/** Why a file is not a usable state: the message of the STATE error, before the restore hint. */
class StateProblem extends Error {}
