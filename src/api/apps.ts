import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { readText } from './files.js';
import { join } from 'node:path';
import { APP_SERVER } from '../paths.js';
import { alive, environOf, pgidOf } from '../pids.js';
import { VpcctlError } from '../errors.js';
import { native } from '../native.js';
import { hostNs } from '../model/names.js';
import { checkPort } from '../model/ports.js';
import { hostOf } from '../model/addresses.js';
import type { StateStore } from '../state/store.js';
import type { AppState, State, SubnetState } from '../state/types.js';
import { findSubnet, findVpc } from './lookup.js';

const NETNS_DIR = '/run/netns';

/** An app of a subnet as recorded, with whether it still runs. */
export interface AppInfo extends AppState {
  vpc: string;
  subnet: string;
  running: boolean;
}

/** An app to start in a subnet. */
export interface DeployAppInput {
  vpc: string;
  subnet: string;
  port: number;
  /** argv, or a command line run by /bin/sh; default: vpcctl's built-in HTTP server. */
  command?: string[] | string;
  /** User the app runs as (default: nobody). */
  user?: string;
}

export { alive };

export const appStatus = (vpc: string, subnet: string, a: AppState): AppInfo => ({ ...a, vpc, subnet, running: alive(a.pid) });

/**
 * Who the app runs as: a user *name* known to the system's user database
 * (NSS, so LDAP users too). Refused before anything starts: an empty name,
 * an unknown one, and numbers (a uid is not accepted, so `0` or a stray
 * number can never mean root), and any uid-0 account other than one asked
 * for as `root` by name: root is only ever what `--user root` says.
 */
export async function lookupUser(user: string): Promise<{ uid: number; gid: number }> {
  if (typeof user !== 'string' || user.trim() === '') {
    throw new VpcctlError('INVALID_INPUT', 'user is empty: name a user to run the app as (default: nobody)');
  }
  if (/^\d+$/.test(user)) {
    throw new VpcctlError('INVALID_INPUT', `user "${user}" is a number: give a user name, not a uid`);
  }
  const found = await (await native()).userLookup(user).catch((e: unknown) => {
    throw new VpcctlError('INVALID_INPUT', `user ${JSON.stringify(user)} cannot be looked up: ${(e as Error).message}`);
  });
  if (!found) throw new VpcctlError('INVALID_INPUT', `user "${user}" does not exist on this host`);
  if (found.uid === 0 && user !== 'root') {
    throw new VpcctlError('INVALID_INPUT', `user "${user}" has uid 0: to run an app as root, ask for --user root`);
  }
  return { uid: found.uid, gid: found.gid };
}

/**
 * Refuses a port that a process already listens on inside the namespace
 * (IPv4 or IPv6, any address), asked of the kernel over sock_diag: a
 * readiness probe would otherwise be answered by that other listener. When
 * only untracked leftovers of this very app hold it (leftoverApps), they
 * are stopped instead.
 */
async function claimPort(ns: string, input: DeployAppInput & { port: number }, subnet: SubnetState): Promise<void> {
  const held = await (await native()).tcpListeners(ns, input.port);
  if (held.length === 0) return;
  const pids = [...new Set(held.flatMap((l) => l.pids))];
  const left = leftoverApps(pids, input, ns, new Set(subnet.apps.map((a) => a.pid)));
  if (left.length > 0) {
    await Promise.all(left.map((pid) => stopProcess(pid, ns)));
    return;
  }
  const who = pids.length
    ? `held by ${pids.map((p) => `pid ${p}${commOf(p)}`).join(', ')}`
    : `held by a socket of uid ${held[0]!.uid} whose process cannot be seen`;
  throw new VpcctlError('IN_USE', `port ${input.port} is already in use in subnet "${input.subnet}" of vpc "${input.vpc}" (${who})`);
}

function commOf(pid: number): string {
  try {
    return ` (${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()})`;
  } catch {
    return '';
  }
}

export const argvOf = (command: string[] | string | undefined, port: number): string[] =>
  command === undefined ? [process.execPath, APP_SERVER, String(port)]
    : typeof command === 'string' ? ['/bin/sh', '-c', command] : command;

/**
 * Start an app detached inside the subnet's host namespace (the native module
 * forks, enters the namespace and execs in the child). A bad user, or a port
 * taken in the subnet (by one of its apps or any other process), is refused
 * before anything runs. Returns as soon as the process exists: readiness is
 * waited for once it is recorded (`deployApp`).
 */
async function spawnApp(stateDir: string, vpcAddress: string, input: DeployAppInput, subnet: SubnetState): Promise<AppState> {
  const port = checkPort(input.port);
  const taken = subnet.apps.find((a) => a.port === port && alive(a.pid));
  if (taken) throw new VpcctlError('IN_USE', `port ${port} is already used by an app (pid ${taken.pid}) in subnet "${input.subnet}"`);
  const user = input.user ?? 'nobody';
  const ids = await lookupUser(user);
  const ns = hostNs(input.vpc, input.subnet);
  await claimPort(ns, { ...input, port }, subnet);
  const argv = argvOf(input.command, port);
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${input.vpc}-${input.subnet}-${port}.log`);
  const pid = await (await native()).spawnDetached(ns, argv, {
    uid: ids.uid, gid: ids.gid, logFile,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      VPCCTL_APP_VPC: input.vpc, VPCCTL_APP_SUBNET: input.subnet,
      VPCCTL_APP_ADDRESS: vpcAddress, VPCCTL_APP_PORT: String(port),
    },
  });
  return { port, pid, command: argv, user, logFile, startedAt: new Date().toISOString() };
}

/**
 * Ready when a TCP connect from inside the namespace succeeds; a custom
 * command that never listens is given the benefit of the doubt after 5 s.
 * An app that dies first is an error, with its log's last line.
 */
async function waitReady(ns: string, vpcAddress: string, app: AppState, subnetName: string): Promise<void> {
  const n = await native();
  for (let i = 0; i < 50; i++) {
    if (!alive(app.pid)) {
      const log = readText(app.logFile);
      const inUse = /EADDRINUSE|address already in use/i.test(log);
      throw new VpcctlError(inUse ? 'IN_USE' : 'INVALID_INPUT',
        inUse ? `port ${app.port} is already in use in subnet "${subnetName}"`
          : `app exited at once: ${log.trim().split('\n').pop() || 'no output'} (log: ${app.logFile})`);
    }
    if ((await n.tcpConnect(ns, vpcAddress, app.port, 100)).ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * True when `pid` lives in network namespace `ns` (same nsfs inode): a pid
 * read from the state file is only signalled if it is still an app of that
 * subnet, never some other process that got the number (or was written there).
 */
export function inNamespace(pid: number, ns: string): boolean {
  try {
    const [p, n] = [statSync(`/proc/${pid}/ns/net`), statSync(`${NETNS_DIR}/${ns}`)];
    return Number.isInteger(pid) && pid > 0 && p.dev === n.dev && p.ino === n.ino;
  } catch {
    return false;
  }
}

/**
 * SIGTERM, then SIGKILL if the app is still there after a second; only if
 * it is in `ns`. An app runs in a session of its own (spawnDetached): when
 * it leads its process group the group is signalled, so what a command line
 * started (`sh -c 'server; echo done'`) does not outlive it holding the port.
 */
async function stopProcess(pid: number, ns: string): Promise<void> {
  if (!alive(pid) || !inNamespace(pid, ns)) return;
  const target = pgidOf(pid) === pid ? -pid : pid;
  const running = () => {
    try { process.kill(target, 0); return target < 0 || alive(pid); } catch { return false; }
  };
  try { process.kill(target, 'SIGTERM'); } catch { return; }
  const gone = async (ms: number) => {
    for (let i = 0; i < ms / 50 && running(); i++) await new Promise((r) => setTimeout(r, 50));
    return !running();
  };
  if (await gone(1000)) return;
  try { process.kill(target, 'SIGKILL'); } catch { return; }
  // A kill is delivered when the process next runs: on a busy machine, a moment later.
  await gone(2000);
}

/**
 * Processes listening on `port` in the subnet that vpcctl started there as
 * that subnet's app on that port (its environment says so, and it is in the
 * namespace) but that the state does not know: what a command killed
 * between spawning an app and recording it leaves. Returned by the leader
 * of their process group when that is such an app too.
 */
function leftoverApps(pids: number[], input: DeployAppInput, ns: string, known: Set<number>): number[] {
  const ours = (pid: number) => {
    const env = environOf(pid);
    return inNamespace(pid, ns) && env.get('VPCCTL_APP_VPC') === input.vpc && env.get('VPCCTL_APP_SUBNET') === input.subnet
      && env.get('VPCCTL_APP_PORT') === String(input.port);
  };
  const out = new Set<number>();
  for (const pid of pids) {
    if (!ours(pid)) return [];
    const leader = pgidOf(pid);
    out.add(leader !== null && leader !== pid && ours(leader) ? leader : pid);
  }
  return [...out].filter((p) => !known.has(p));
}

// --- The lifecycle the API offers: each step reads and writes the state -----
// (callers hold the store's lock around deployApp and stopApps).

/**
 * Start an app in a subnet and record it. It is recorded as soon as it
 * exists, before its readiness wait: a command killed during that wait
 * leaves an app the state knows (stopped, listed, restarted by apply), not
 * an untracked process holding the port. One that dies before it is ready,
 * or that the state could not record, is stopped and forgotten again.
 */
export async function deployApp(store: StateStore, input: DeployAppInput): Promise<AppInfo> {
  const state = await store.read();
  const subnet = findSubnet(state, input.vpc, input.subnet);
  const ns = hostNs(input.vpc, input.subnet);
  // An IPv6-only subnet's app is reached (and probed) at the host's IPv6 address.
  const address = hostOf(subnet);
  const app = await spawnApp(store.dir, address, input, subnet);
  const before = subnet.apps.filter((a) => a.port !== app.port);
  subnet.apps = [...before, app];
  try {
    await store.write(state);
    await waitReady(ns, address, app, input.subnet);
  } catch (e) {
    // An app the state does not know, or that never came up, would run untracked: stop it.
    await stopProcess(app.pid, ns);
    subnet.apps = before;
    await store.write(state).catch(() => { /* the first error is the one to report */ });
    throw e;
  }
  return appStatus(input.vpc, input.subnet, app);
}

interface AppRef { vpc: string; subnet: string; port?: number }

const noApp = (ref: AppRef) => new VpcctlError('NOT_FOUND', `no app on port ${ref.port} in subnet "${ref.subnet}" of vpc "${ref.vpc}"`);

/** Stop a subnet's apps (or the one on `port`) and forget them; returns what was stopped. */
export async function stopApps(store: StateStore, ref: AppRef): Promise<AppInfo[]> {
  const state = await store.read();
  const subnet = findSubnet(state, ref.vpc, ref.subnet);
  const stopping = subnet.apps.filter((a) => ref.port === undefined || a.port === ref.port);
  if (ref.port !== undefined && stopping.length === 0) throw noApp(ref);
  await Promise.all(stopping.map((a) => stopProcess(a.pid, hostNs(ref.vpc, ref.subnet))));
  subnet.apps = subnet.apps.filter((a) => !stopping.includes(a));
  await store.write(state);
  return stopping.map((a) => appStatus(ref.vpc, ref.subnet, a));
}

/** The apps of every VPC, or of `vpc` (NOT_FOUND when there is no such VPC). */
export function listApps(state: State, vpc?: string): AppInfo[] {
  if (vpc) findVpc(state, vpc);
  return Object.values(state.vpcs)
    .filter((v) => !vpc || v.name === vpc)
    .flatMap((v) => Object.values(v.subnets).flatMap((s) => s.apps.map((a) => appStatus(v.name, s.name, a))));
}

/**
 * The app a log is asked of: the one on `port`, or, without a port, the
 * subnet's only app (several: the error lists their ports to choose from).
 */
export function findApp(state: State, ref: AppRef & { port?: number }): AppInfo {
  const apps = findSubnet(state, ref.vpc, ref.subnet).apps;
  if (ref.port === undefined) {
    if (apps.length === 1) return appStatus(ref.vpc, ref.subnet, apps[0]!);
    throw apps.length === 0
      ? new VpcctlError('NOT_FOUND', `no app in subnet "${ref.subnet}" of vpc "${ref.vpc}"`)
      : new VpcctlError('INVALID_INPUT', `subnet "${ref.subnet}" of vpc "${ref.vpc}" has ${apps.length} apps (ports ${apps.map((a) => a.port).join(', ')}): say which with --port`);
  }
  const app = apps.find((a) => a.port === ref.port);
  if (!app) throw noApp(ref);
  return appStatus(ref.vpc, ref.subnet, app);
}

/** The log of the app on a port (or of the subnet's only app). */
export function appLog(state: State, ref: AppRef & { port?: number }): string {
  return readText(findApp(state, ref).logFile);
}
