import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';

/**
 * A real etcd cluster for the tests (Debian's etcd-server), started by the
 * test inside its sandbox and ended by pid. Members listen on private
 * addresses only (loopback of the sandbox, or a simulated host's underlay).
 */
export interface MemberSpec {
  name: string;
  ip: string;
  clientPort: number;
  peerPort: number;
  /** argv run before etcd, e.g. nsenter into a simulated host. */
  prefix?: string[];
}

export interface EtcdCluster {
  endpoints: string[];
  members: MemberSpec[];
  pids: Array<number | undefined>;
  stop(i: number): Promise<void>;
  start(i: number): Promise<void>;
  stopAll(): Promise<void>;
}

const ETCD = '/usr/bin/etcd';

export const loopbackMembers = (n = 3, base = 23790): MemberSpec[] =>
  Array.from({ length: n }, (_, i) => ({ name: `m${i}`, ip: '127.0.0.1', clientPort: base + 2 * i, peerPort: base + 2 * i + 1 }));

const url = (ip: string, port: number) => `http://${ip}:${port}`;

export async function startEtcd(members: MemberSpec[], dir = '/run/vpcctl/etcd'): Promise<EtcdCluster> {
  const initial = members.map((m) => `${m.name}=${url(m.ip, m.peerPort)}`).join(',');
  const procs: Array<ChildProcess | undefined> = [];
  const launch = (i: number, state: 'new' | 'existing') => {
    const m = members[i]!;
    const data = `${dir}/${m.name}`;
    mkdirSync(data, { recursive: true });
    const log = openSync(`${dir}/${m.name}.log`, 'a');
    const argv = [
      ETCD, '--name', m.name, '--data-dir', data,
      '--listen-client-urls', url(m.ip, m.clientPort), '--advertise-client-urls', url(m.ip, m.clientPort),
      '--listen-peer-urls', url(m.ip, m.peerPort), '--initial-advertise-peer-urls', url(m.ip, m.peerPort),
      '--initial-cluster', initial, '--initial-cluster-state', state, '--initial-cluster-token', 'vpcctl-lab',
      // A topology of hundreds of subnets is one transaction (every write is atomic).
      '--max-txn-ops', '20000', '--max-request-bytes', String(16 * 1024 * 1024),
      '--heartbeat-interval', '50', '--election-timeout', '500', '--logger', 'zap',
    ];
    const full = [...(m.prefix ?? []), ...argv];
    const p = spawn(full[0]!, full.slice(1), { stdio: ['ignore', log, log], detached: false });
    procs[i] = p;
  };
  members.forEach((_, i) => launch(i, 'new'));
  const cluster: EtcdCluster = {
    endpoints: members.map((m) => url(m.ip, m.clientPort)),
    members,
    get pids() { return procs.map((p) => p?.pid); },
    async stop(i) {
      const p = procs[i];
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      process.kill(p.pid!, 'SIGKILL');
      await exited;
      procs[i] = undefined;
    },
    async start(i) {
      launch(i, 'existing');
      await waitHealthy([cluster.endpoints[i]!]);
    },
    async stopAll() {
      for (let i = 0; i < procs.length; i++) await cluster.stop(i);
    },
  };
  await waitHealthy(cluster.endpoints);
  return cluster;
}

/** Until every endpoint's /health says true (a leader is elected), or 20 s. */
export async function waitHealthy(endpoints: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const e of endpoints) {
    for (;;) {
      try {
        const r = await fetch(`${e}/health`, { signal: AbortSignal.timeout(1000) });
        if (r.ok && ((await r.json()) as { health?: string }).health === 'true') break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error(`etcd at ${e} not healthy after 20 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
