import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { native } from '../../src/native.js';
import { SIM } from '../../src/sim/internet.js';
import { ip } from './sandbox.js';

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

// Link-local lines left out: the kernel's own, and their DAD state changes with time.
const global = (text: string) => text.split('\n').filter((l) => !l.includes('fe80')).join('\n');
/** The host's IPv6 routes (every table) and global addresses: what a teardown must leave as it found. */
export const hostV6 = () => ({ routes: global(ip(['-6', 'route', 'show', 'table', 'all'])), addrs: global(ip(['-6', '-o', 'addr'])) });
