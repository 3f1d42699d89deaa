import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { ExecutionContext, TestFn } from 'ava';
import { native } from '../../src/native.js';
import { SIM, buildSimInternet } from '../../src/sim/internet.js';
import { ip, nft } from './sandbox.js';

/** Helpers of the IPv6 integration tests (ipv6*.test.ts): probes from inside namespaces, and listeners killed by pid. */

export const ping = async (ns: string, dst: string): Promise<boolean> => (await (await native()).ping(ns, dst, 700)).ok;
export const tcp = async (ns: string, dst: string, port: number): Promise<boolean> => (await (await native()).tcpConnect(ns, dst, port, 700)).ok;

/** Node one-liners run in a namespace by `ip netns exec`. */
const inNsNode = (ns: string, script: string) => ['/usr/sbin/ip', ['netns', 'exec', ns, process.execPath, '-e', script]] as const;

/** A child that prints a line once it listens: resolved then, rejected if it exits first. */
function started(child: ChildProcess, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
  });
}

/** Processes started by a test file, killed by pid at its end (stopAll). */
export class Children {
  private readonly list: ChildProcess[] = [];

  /** TCP listeners in `ns` on [::] (both families) that close each connection at once. */
  async listen(ns: string, ports: number[]): Promise<void> {
    const script = `const net=require('net');let n=0;for(const p of ${JSON.stringify(ports)})net.createServer((s)=>s.end()).listen(p,'::',()=>{if(++n===${ports.length})console.log('up')});`;
    await this.start(ns, script, `listener in ${ns}`);
  }

  /** A server of the simulated internet on [::]:port that answers each client with the address it sees. */
  async addressEcho(port: number): Promise<void> {
    await this.start(SIM.ns, `require('net').createServer((s)=>s.end(s.remoteAddress+'\\n')).listen(${port},'::',()=>console.log('up'))`, 'server');
  }

  private async start(ns: string, script: string, what: string): Promise<void> {
    const [cmd, args] = inNsNode(ns, script);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    this.list.push(child);
    await started(child, what);
  }

  stopAll(): void {
    for (const c of this.list) if (c.pid && c.exitCode === null && c.signalCode === null) { try { process.kill(c.pid); } catch { /* gone with its namespace */ } }
  }
}

/** A TCP connect from `ns` bound to source `from` (a forged one when `from` is not the host's): true when it connects. */
export function connectFrom(ns: string, from: string, dst: string, port: number): boolean {
  const script = `const s=require('net').connect({host:'${dst}',port:${port},localAddress:'${from}'},()=>{process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(2),800);`;
  const [cmd, args] = inNsNode(ns, script);
  return spawnSync(cmd, args, { timeout: 5000 }).status === 0;
}

/** What an addressEcho server says it saw, fetched from inside `ns` ('' when nothing came back). */
export function fetchFrom(ns: string, to: string, port: number): string {
  const script = `const s=require('net').connect({host:'${to}',port:${port}});let d='';s.on('data',(b)=>d+=b);s.on('end',()=>{process.stdout.write(d);process.exit(0)});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(2),1500);`;
  const [cmd, args] = inNsNode(ns, script);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.trim() : '';
}

/**
 * A test file's simulated internet with an addressEcho server on [::]:port, stopped after the file.
 * Returns fetch6: what the server says it saw, fetched from `ns` ('' when nothing came back).
 */
export function simInternet6(test: TestFn, port: number, children: Children): (ns: string, to?: string) => string {
  test.before(async () => {
    await buildSimInternet();
    await children.addressEcho(port);
  });
  test.after.always(() => children.stopAll());
  return (ns, to = SIM.serverAddress6) => fetchFrom(ns, to, port);
}

// Link-local lines left out: the kernel's own, and their DAD state changes with time.
const global = (text: string) => text.split('\n').filter((l) => !l.includes('fe80')).join('\n');
/** The host's IPv6 routes (every table) and global addresses: what a teardown must leave as it found. */
export const hostV6 = () => ({ routes: global(ip(['-6', 'route', 'show', 'table', 'all'])), addrs: global(ip(['-6', '-o', 'addr'])) });

export interface SpoofCase {
  /** The router namespace whose anti-spoofing rule must count the drops. */
  router: string;
  /** The sending host's namespace and its own address. */
  srcNs: string; own: string;
  /** An address of another subnet of the VPC (a second forged source is 2001:db8::99, from outside). */
  forged: string;
  /** The target's namespace, address and a port a listener holds there. */
  dstNs: string; dst: string; port: number;
}

/**
 * IPv6 anti-spoofing checked end to end: a connect from the host's own
 * address passes; from an address it took of another subnet, or of the
 * outside, it does not. The router's rule counts the drops and a witness
 * table in the target (the test's own) sees real traffic and no forged packet.
 */
export function checkSpoofingDropped(t: ExecutionContext, c: SpoofCase): void {
  const outside = '2001:db8::99';
  nft(['add', 'table', 'inet', 'witness'], c.dstNs);
  nft(['add', 'chain', 'inet', 'witness', 'in', '{ type filter hook input priority -10; policy accept; }'], c.dstNs);
  nft(['add', 'rule', 'inet', 'witness', 'in', 'ip6', 'saddr', c.own, 'tcp', 'dport', String(c.port), 'counter', 'comment', '"real"'], c.dstNs);
  nft(['add', 'rule', 'inet', 'witness', 'in', 'ip6', 'saddr', `{ ${c.forged}, ${outside} }`, 'counter', 'comment', '"forged"'], c.dstNs);
  t.true(connectFrom(c.srcNs, c.own, c.dst, c.port), 'from its own address: connects');
  // The host takes the addresses (its own kernel lets it), then sends from them.
  for (const a of [c.forged, outside]) ip(['-6', 'addr', 'add', `${a}/128`, 'dev', 'eth0', 'nodad'], c.srcNs);
  try {
    t.false(connectFrom(c.srcNs, c.forged, c.dst, c.port), "from another subnet's prefix: dropped");
    t.false(connectFrom(c.srcNs, outside, c.dst, c.port), 'from an outside address: dropped');
  } finally {
    for (const a of [c.forged, outside]) ip(['-6', 'addr', 'del', `${a}/128`, 'dev', 'eth0'], c.srcNs);
  }
  t.regex(nft(['list', 'table', 'inet', 'vpcctl'], c.router), /fib saddr \. iif oif missing counter packets [1-9]\d* bytes \d+ drop comment "IPv6 anti-spoofing"/);
  const witness = nft(['list', 'table', 'inet', 'witness'], c.dstNs);
  t.regex(witness, /counter packets [1-9]\d* bytes \d+ comment "real"/, 'the witness sees real traffic');
  t.regex(witness, /counter packets 0 bytes 0 comment "forged"/, 'no forged packet reached the target');
  nft(['delete', 'table', 'inet', 'witness'], c.dstNs);
}
