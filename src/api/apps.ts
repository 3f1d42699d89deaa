import { mkdirSync, readFileSync } from 'node:fs';
import { readText } from './files.js';
import { join } from 'node:path';
import { APP_SERVER } from '../paths.js';
import { VpcctlError } from '../errors.js';
import { kernel, native } from '../native.js';
import { hostNs } from '../model/names.js';
import type { AppState, SubnetState } from '../state/types.js';

export interface AppInfo extends AppState {
  vpc: string;
  subnet: string;
  running: boolean;
}

export interface DeployAppInput {
  vpc: string;
  subnet: string;
  port: number;
  /** argv, or a command line run by /bin/sh; default: vpcctl's built-in HTTP server. */
  command?: string[] | string;
  /** User the app runs as (default: nobody). */
  user?: string;
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export const appStatus = (vpc: string, subnet: string, a: AppState): AppInfo => ({ ...a, vpc, subnet, running: alive(a.pid) });

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new VpcctlError('INVALID_INPUT', `port ${String(port)} is invalid: use 1-65535`);
  }
  return port;
}

async function lookupUser(user: string): Promise<{ uid: number; gid: number }> {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === user || uid === user) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new VpcctlError('INVALID_INPUT', `user "${user}" does not exist on this host`);
}

export const argvOf = (command: string[] | string | undefined, port: number): string[] =>
  command === undefined ? [process.execPath, APP_SERVER, String(port)]
    : typeof command === 'string' ? ['/bin/sh', '-c', command] : command;

/**
 * Start an app detached inside the subnet's host namespace (the native module
 * forks, enters the namespace and execs in the child), then wait until it
 * listens or dies. A port taken in the subnet is refused before anything runs.
 */
export async function startApp(stateDir: string, vpcAddress: string, input: DeployAppInput, subnet: SubnetState): Promise<AppState> {
  const port = checkPort(input.port);
  const taken = subnet.apps.find((a) => a.port === port && alive(a.pid));
  if (taken) throw new VpcctlError('IN_USE', `port ${port} is already used by an app (pid ${taken.pid}) in subnet "${input.subnet}"`);
  const user = input.user ?? 'nobody';
  const ids = await lookupUser(user);
  const argv = argvOf(input.command, port);
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${input.vpc}-${input.subnet}-${port}.log`);
  const n = await native();
  const ns = hostNs(input.vpc, input.subnet);
  const pid = await kernel(n.spawnDetached(ns, argv, {
    uid: ids.uid, gid: ids.gid, logFile,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      VPCCTL_APP_VPC: input.vpc, VPCCTL_APP_SUBNET: input.subnet,
      VPCCTL_APP_ADDRESS: vpcAddress, VPCCTL_APP_PORT: String(port),
    },
  }));
  // Ready when a TCP connect from inside the namespace succeeds; a custom
  // command that never listens is given the benefit of the doubt after 5 s.
  for (let i = 0; i < 50; i++) {
    if (!alive(pid)) {
      const log = readText(logFile);
      const inUse = /EADDRINUSE|address already in use/i.test(log);
      throw new VpcctlError(inUse ? 'IN_USE' : 'INVALID_INPUT',
        inUse ? `port ${port} is already in use in subnet "${input.subnet}"`
          : `app exited at once: ${log.trim().split('\n').pop() ?? 'no output'} (log: ${logFile})`);
    }
    const probe = await kernel(n.tcpConnect(ns, vpcAddress, port, 100));
    if (probe.ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, pid, command: argv, user, logFile, startedAt: new Date().toISOString() };
}

/** SIGTERM, then SIGKILL if the app is still there after a second. */
export async function stopProcess(pid: number): Promise<void> {
  if (!alive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 20 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}
