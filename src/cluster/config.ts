import { existsSync, mkdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname } from 'node:path';
import { VpcctlError } from '../errors.js';
import { NotReadable, readRegular } from '../regular-file.js';
import { NAME_RE } from '../model/names.js';
import { replaceFile } from '../state/durable.js';

/** What `cluster join` writes: where etcd is and who this host is. */
export interface ClusterConfig {
  etcd: string[];
  host: string;
  /** This host's address on the underlay: the VXLAN tunnels' local end. */
  underlay: string;
}

export const DEFAULT_CLUSTER_FILE = '/etc/vpcctl/cluster.json';

/** --cluster FILE, else $VPCCTL_CLUSTER, else /etc/vpcctl/cluster.json. */
export const clusterPath = (flag?: string): string => flag ?? process.env.VPCCTL_CLUSTER ?? DEFAULT_CLUSTER_FILE;

/** Is a cluster configured? One stat: the single-host path pays nothing more. */
export const clusterConfigured = (flag?: string): boolean => existsSync(clusterPath(flag));

export function validateHostName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new VpcctlError('INVALID_NAME', `host name ${JSON.stringify(name)} is invalid: use a-z, 0-9 and '-', start with a letter or digit, at most 32 characters`);
  }
  return name;
}

/** Endpoints as given to --etcd: comma-separated http(s) URLs. */
export function parseEndpoints(text: string): string[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new VpcctlError('INVALID_INPUT', '--etcd needs at least one URL (http://HOST:PORT[,...])');
  for (const e of list) {
    let u: URL;
    try { u = new URL(e); } catch { throw new VpcctlError('INVALID_INPUT', `--etcd: ${JSON.stringify(e)} is not a URL (http://HOST:PORT)`); }
    if (!/^https?:$/.test(u.protocol) || !u.port) throw new VpcctlError('INVALID_INPUT', `--etcd: ${JSON.stringify(e)} is not http(s)://HOST:PORT`);
  }
  return list;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
export function checkUnderlay(addr: string): string {
  if (!IPV4.test(addr) || addr.split('.').some((o) => Number(o) > 255)) {
    throw new VpcctlError('INVALID_INPUT', `--underlay: ${JSON.stringify(addr)} is not an IPv4 address`);
  }
  return addr;
}

/**
 * The underlay address when --underlay is not given: this host's address
 * on the network of the first etcd member reachable on a connected
 * network, else its only non-loopback IPv4 address. Read from the
 * interface list (no route lookup, no packet sent).
 */
export function detectUnderlay(endpoints: string[], ifaces = networkInterfaces()): string {
  const addrs = Object.values(ifaces).flat().filter((a) => a && a.family === 'IPv4' && !a.internal) as Array<{ address: string; cidr: string | null }>;
  for (const e of endpoints) {
    const host = new URL(e).hostname;
    if (!IPV4.test(host)) continue;
    const mine = addrs.find((a) => a.cidr && sameNetwork(host, a.address, Number(a.cidr.split('/')[1])));
    if (mine) return mine.address;
  }
  if (addrs.length === 1) return addrs[0]!.address;
  throw new VpcctlError('INVALID_INPUT', `cannot tell this host's underlay address (${addrs.length} candidates): give --underlay ADDR`);
}

const num = (ip: string): number => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
const sameNetwork = (a: string, b: string, prefix: number): boolean => {
  const size = 2 ** (32 - prefix);
  return Math.floor(num(a) / size) === Math.floor(num(b) / size);
};

export function readClusterConfig(path: string): ClusterConfig {
  let raw: unknown;
  try {
    // A FIFO or a device named by --cluster would block the read or never end it.
    raw = JSON.parse(readRegular(path).toString('utf8'));
  } catch (e) {
    const reason = e instanceof NotReadable ? `${e.kind}, not a regular file` : (e as Error).message.split('\n')[0];
    throw new VpcctlError('INVALID_INPUT', `cluster config ${path}: ${reason}`);
  }
  const c = raw as Partial<ClusterConfig>;
  if (!c || !Array.isArray(c.etcd) || typeof c.host !== 'string' || typeof c.underlay !== 'string') {
    throw new VpcctlError('INVALID_INPUT', `cluster config ${path}: needs "etcd" (URLs), "host" and "underlay"`);
  }
  return { etcd: parseEndpoints(c.etcd.join(',')), host: validateHostName(c.host), underlay: checkUnderlay(c.underlay) };
}

/** Written whole and durably (fsync of file and directory), like the state. */
export function writeClusterConfig(path: string, cfg: ClusterConfig): void {
  mkdirSync(dirname(path), { recursive: true });
  replaceFile(path, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o644 });
}
