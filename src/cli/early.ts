import { existsSync } from 'node:fs';
import { cacheFileOf } from '../api/plan-cache.js';
import { clusterConfigured } from '../cluster/config.js';
import { loadAddon } from '../native-load.js';
import { stateDirFrom, stateFileOf } from '../state/dir.js';

/**
 * The early read. A no-op `apply` or a `status` ends on the native deep read
 * of the state's full plan (api/drift.ts), ~30 ms of a ~85 ms call at 500
 * subnets, and most of the rest is Node loading the CLI and reading the
 * state. The launcher (bin/vpcctl.cjs) calls this first, from a bundle of
 * its own (dist/bundle/early.cjs): for those two commands it starts the
 * read of the cached plan on native threads, and the CLI takes the result
 * when it gets there (findDrift), keeping it only when it was made from the
 * very state the CLI read (the plan's key, the state's revision and nft
 * marks). Anything else, and anything this cannot tell, leaves the CLI its
 * usual path: this never throws and never decides.
 */

/**
 * The command and state dir an argv names, read as the CLI reads them
 * (state/dir.ts, stateDirFrom), or null when this is not a call to read early for.
 */
export function earlyTarget(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { command: string; stateDir: string; cluster?: string } | null {
  let stateDir: string | undefined;
  let cluster: string | undefined;
  let i = 2;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--state-dir' || a === '--cluster') {
      const v = argv[++i];
      if (v === undefined) return null;
      if (a === '--state-dir') stateDir = v;
      else cluster = v;
    } else if (a.startsWith('--state-dir=')) stateDir = a.slice('--state-dir='.length);
    else if (a.startsWith('--cluster=')) cluster = a.slice('--cluster='.length);
    else if (a.startsWith('-')) return null; // --help, --version, or something the CLI will refuse
    else break;
  }
  const command = argv[i];
  if (command !== 'apply' && command !== 'status') return null;
  const rest = argv.slice(i + 1);
  // A dry run never takes the fast path; help prints and exits; an option
  // after the command may be a global one, a state dir given there, too.
  if (rest.some((a) => a === '--dry-run' || a === '-h' || a === '--help' || a.startsWith('--state-dir') || a.startsWith('--cluster'))) return null;
  return { command, stateDir: stateDirFrom(stateDir, env), cluster };
}

export function startEarlyRead(argv: readonly string[] = process.argv): void {
  try {
    if (process.getuid?.() !== 0) return; // the CLI will refuse: nothing to read for
    const target = earlyTarget(argv);
    if (!target || clusterConfigured(target.cluster)) return; // in a cluster, apply writes etcd
    const planFile = cacheFileOf(target.stateDir);
    const stateFile = stateFileOf(target.stateDir);
    if (!existsSync(planFile) || !existsSync(stateFile)) return;
    loadAddon({ shortLived: true }).verifyEarlyStart(planFile, stateFile);
  } catch {
    // The CLI loads the addon again and says what is wrong, if anything is.
  }
}
