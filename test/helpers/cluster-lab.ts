import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { APP_SERVER } from '../../src/paths.js';
import { startEtcd, type EtcdCluster } from './etcd.js';
import { CLI, type CliResult } from './sandbox.js';

/**
 * A multi-host lab inside one sandbox: N simulated hosts, each its own
 * network AND mount namespace (so its own /run/netns, state dir and cluster
 * file), joined by an underlay bridge on 192.0.2.0/24 (documentation range),
 * each with its own uplink to the simulated internet (a namespace holding
 * 198.51.100.10), and a 3-member etcd cluster, one member per host on its
 * underlay address. Every process is started here and ended by pid; when
 * the sandbox exits the kernel reclaims the rest. Test harness only: it
 * uses ip(8) and nsenter(1) as the lab's builder, never in product code.
 */
const IP = '/usr/sbin/ip';
const NSENTER = '/usr/bin/nsenter';
export const INTERNET = { ns: 'lab-inet', server: '198.51.100.10' } as const;

export interface SimHost {
  name: string;
  /** The holder process: its namespaces are the host's. */
  pid: number;
  underlay: string;
  /** argv run inside the host (its network and mount namespaces). */
  argv(args: string[]): string[];
  /** Run vpcctl inside the host, with its own state dir and cluster file. */
  vpcctl(args: string[]): Promise<CliResult>;
  /** A witness command inside the host, e.g. ['ip', 'netns', 'list']. */
  sh(args: string[], timeoutMs?: number): { status: number | null; stdout: string; stderr: string };
  netns(): string[];
  agent?: ChildProcess;
  startAgent(): ChildProcess;
  killAgent(signal?: NodeJS.Signals): Promise<void>;
}

export interface Lab { hosts: SimHost[]; etcd: EtcdCluster; endpoints: string; stop(): Promise<void> }

const ip = (...args: string[]) => execFileSync(IP, args, { encoding: 'utf8' });
export const HOST_STATE = '/run/vpcctl/state';
export const HOST_CLUSTER = '/run/vpcctl/cluster.json';

export async function buildLab(names = ['h1', 'h2', 'h3']): Promise<Lab> {
  if (process.env.VPCCTL_SANDBOX !== '1') throw new Error('the cluster lab runs only inside the sandbox');
  ip('link', 'add', 'underlay0', 'type', 'bridge');
  ip('link', 'set', 'underlay0', 'up');
  // The test itself reaches the members (and watches the intent) over the bridge.
  ip('addr', 'add', '192.0.2.1/24', 'dev', 'underlay0');
  ip('netns', 'add', INTERNET.ns);
  ip('-n', INTERNET.ns, 'link', 'set', 'lo', 'up');
  ip('-n', INTERNET.ns, 'addr', 'add', `${INTERNET.server}/32`, 'dev', 'lo');
  const holders: ChildProcess[] = [];
  const server = spawn(IP, ['netns', 'exec', INTERNET.ns, process.execPath, APP_SERVER, '80'], {
    stdio: 'ignore', env: { ...process.env, VPCCTL_APP_VPC: 'internet', VPCCTL_APP_SUBNET: 'web', VPCCTL_APP_ADDRESS: INTERNET.server },
  });

  const hosts = await Promise.all(names.map(async (name, i) => {
    // The holder: new net + mount namespaces, private tmpfs for /run/netns, /etc/netns (each host's
    // names files, as on a real machine) and vpcctl's files.
    const holder = spawn('/usr/bin/unshare', ['--net', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c',
      'mount -t tmpfs lab /run/netns && mkdir -p /etc/netns && mount -t tmpfs lab /etc/netns && mkdir -p /run/vpcctl && mount -t tmpfs lab /run/vpcctl && mkdir -p /run/vpcctl/state && ip link set lo up && echo ready && exec sleep infinity'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    holders.push(holder);
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (c) => reject(new Error(`host ${name} holder exited ${c}`)));
    });
    const pid = holder.pid!;
    const underlay = `192.0.2.${11 + i}`;
    ip('link', 'add', `ul-${name}`, 'type', 'veth', 'peer', 'name', 'underlay', 'netns', String(pid));
    ip('link', 'set', `ul-${name}`, 'master', 'underlay0', 'up');
    // Uplink: host uplink0 203.0.113.(4i+2)/30 <-> internet side .(4i+1).
    ip('link', 'add', `wan-${name}`, 'type', 'veth', 'peer', 'name', 'uplink0', 'netns', String(pid));
    ip('link', 'set', `wan-${name}`, 'netns', INTERNET.ns);
    ip('-n', INTERNET.ns, 'addr', 'add', `203.0.113.${4 * i + 1}/30`, 'dev', `wan-${name}`);
    ip('-n', INTERNET.ns, 'link', 'set', `wan-${name}`, 'up');
    const argv = (args: string[]) => [NSENTER, '-t', String(pid), '-n', '-m', '--', ...args];
    const inHost = (...args: string[]) => execFileSync(argv([IP, ...args])[0]!, argv([IP, ...args]).slice(1), { encoding: 'utf8' });
    inHost('addr', 'add', `${underlay}/24`, 'dev', 'underlay');
    inHost('link', 'set', 'underlay', 'up');
    inHost('addr', 'add', `203.0.113.${4 * i + 2}/30`, 'dev', 'uplink0');
    inHost('link', 'set', 'uplink0', 'up');
    inHost('route', 'add', 'default', 'via', `203.0.113.${4 * i + 1}`, 'dev', 'uplink0');
    const env = { ...process.env, VPCCTL_STATE_DIR: HOST_STATE, VPCCTL_CLUSTER: HOST_CLUSTER, NO_COLOR: '1', VPCCTL_LEASE_TTL: '3' };
    const host: SimHost = {
      name, pid, underlay, argv,
      vpcctl: (args) => new Promise((resolve) => {
        const a = argv([process.execPath, CLI, ...args]);
        const p = spawn(a[0]!, a.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => { stdout += d; });
        p.stderr.on('data', (d) => { stderr += d; });
        p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      }),
      sh: (args, timeoutMs = 5000) => {
        const a = argv(args);
        const r = spawnSync(a[0]!, a.slice(1), { encoding: 'utf8', timeout: timeoutMs, env });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
      },
      netns: () => host.sh([IP, 'netns', 'list']).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean).sort(),
      startAgent: () => {
        const a = argv([process.execPath, CLI, 'agent']);
        host.agent = spawn(a[0]!, a.slice(1), { env: { ...env, VPCCTL_AGENT_RESYNC_MS: '2000' }, stdio: 'ignore' });
        return host.agent;
      },
      killAgent: async (signal = 'SIGKILL') => {
        const p = host.agent;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        const gone = new Promise((r) => p.once('exit', r));
        // nsenter execs node in place, so this pid is the agent itself.
        process.kill(p.pid!, signal);
        // A clean stop that does not end in 10 s is a failure of the agent: make it visible, then end it.
        const late = setTimeout(() => { console.error(`agent of ${name} ignored ${signal} for 10 s`); process.kill(p.pid!, 'SIGKILL'); }, 10_000);
        await gone;
        clearTimeout(late);
      },
    };
    return host;
  }));

  // One etcd member per host, on its underlay address, inside its namespaces.
  const etcd = await startEtcd(hosts.map((h) => ({
    name: `m-${h.name}`, ip: h.underlay, clientPort: 2379, peerPort: 2380, prefix: h.argv([]),
  })), '/run/vpcctl/lab-etcd');

  return {
    hosts, etcd, endpoints: etcd.endpoints.join(','),
    async stop() {
      for (const h of hosts) await h.killAgent('SIGTERM');
      await etcd.stopAll();
      for (const p of [server, ...holders]) if (p.exitCode === null) process.kill(p.pid!, 'SIGKILL');
    },
  };
}
