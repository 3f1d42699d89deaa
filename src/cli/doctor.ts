import { existsSync, readFileSync } from 'node:fs';
import { printData, type OutputOptions } from './format.js';
import { count } from './output.js';
import { color, print } from './stdio.js';
import { native, type Native } from '../native.js';
import { platformInfo } from '../platform.js';
import { GATEWAY_LINK_PREFIX, IP_FORWARD, NFT_FAMILY, NFT_TABLE, linksNamed } from '../model/names.js';
import { constrainingRoutes, describeRoute, rootConstraints6 } from '../model/root-routes.js';
import { touchesGlobal6 } from '../model/addresses.js';
import { hostIpv6 } from '../api/network.js';
import { StateStore, stateDirFrom } from '../state/store.js';
import { DEFAULT_TRANSIT_POOL } from '../state/types.js';

type Level = 'ok' | 'warn' | 'fail';
interface Finding { level: Level; text: string; fix?: string }


/** Effective capabilities of this process: CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21. */
function capabilities(): { netAdmin: boolean; sysAdmin: boolean } {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:')) ?? 'CapEff: 0';
  const caps = BigInt(`0x${line.split(/\s+/)[1]}`);
  return { netAdmin: ((caps >> 12n) & 1n) === 1n, sysAdmin: ((caps >> 21n) & 1n) === 1n };
}

const read = (path: string) => { try { return readFileSync(path, 'utf8').trim(); } catch { return null; } };

interface NftChain { family: string; table: string; name: string; hook?: string; policy?: string }

/** Base chains of other tables that drop forwarded packets by policy (Docker's FORWARD DROP, ...). */
export function foreignForwardDrops(ruleset: string): NftChain[] {
  const doc = JSON.parse(ruleset) as { nftables?: { chain?: NftChain }[] };
  return (doc.nftables ?? [])
    .flatMap((o) => (o.chain ? [o.chain] : []))
    .filter((c) => c.hook === 'forward' && c.policy === 'drop' && c.table !== NFT_TABLE);
}

/**
 * Everything vpcctl needs from this host, tried for real in a scratch
 * namespace (created and removed here): netns, veth, nf_tables with nat and
 * masquerade. Prints findings with their fixes; 0 when vpcctl can work.
 */
export async function doctor(o: OutputOptions = {}): Promise<number> {
  const findings: Finding[] = [];
  const add = (level: Level, text: string, fix?: string) => findings.push({ level, text, fix });

  const p = platformInfo();
  if (p.supported) add('ok', `platform ${p.platformArchABI} (${p.triple})`);
  else add('fail', `platform ${process.platform}-${process.arch} has no vpcctl native binary`, `supported: ${p.targets.join(', ')}`);

  const caps = capabilities();
  const root = process.getuid?.() === 0 && caps.netAdmin && caps.sysAdmin;
  if (root) add('ok', 'running as root with CAP_NET_ADMIN and CAP_SYS_ADMIN');
  else add('fail', 'vpcctl needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): the checks of the kernel, nftables and routes below need it too', 'run it with sudo: sudo vpcctl doctor');

  let n: Native | null = null;
  try {
    n = await native();
    add('ok', 'native module loaded');
  } catch (e) {
    add('fail', (e as Error).message, "run 'make build'");
  }
  // libnftables opens a netlink socket that only root may: without root its
  // failure says nothing about libnftables, so it is not tried.
  if (n && root) {
    const nft = await n.nftAvailable();
    if (nft.ok) add('ok', `libnftables ${nft.version ?? ''} loaded in-process`.replace('  ', ' '));
    else add('fail', `libnftables cannot be loaded: ${nft.error}`, 'apt-get install libnftables1');
    if (nft.ok) await tryKernel(n, add);
  }

  const forward = read(`/proc/sys/${IP_FORWARD}`);
  add('ok', `net.ipv4.ip_forward is ${forward} (vpcctl turns it on while a VPC exists and restores it after the last)`);

  if (existsSync('/proc/sys/net/bridge')) {
    const call = read('/proc/sys/net/bridge/bridge-nf-call-iptables');
    add(call === '1' ? 'warn' : 'ok', `br_netfilter is loaded (bridge-nf-call-iptables=${call}): vpcctl uses no bridges, so it does not affect VPC traffic`);
  } else add('ok', 'br_netfilter not loaded');

  if (n && root) {
    try {
      const drops = foreignForwardDrops(await n.nftListRuleset(''));
      for (const c of drops) {
        add('warn', `table ${c.family} ${c.table}, chain ${c.name} drops forwarded packets by default (policy drop, as Docker sets it): public subnets would get no internet`,
          c.family === 'ip' && c.table === 'filter'
            ? `iptables -I ${c.name} -i ${GATEWAY_LINK_PREFIX}-+ -j ACCEPT && iptables -I ${c.name} -o ${GATEWAY_LINK_PREFIX}-+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`
            : `nft insert rule ${c.family} ${c.table} ${c.name} iifname "${linksNamed(GATEWAY_LINK_PREFIX)}" accept; nft insert rule ${c.family} ${c.table} ${c.name} oifname "${linksNamed(GATEWAY_LINK_PREFIX)}" ct state established,related accept`);
      }
      if (drops.length === 0) add('ok', 'no other firewall table drops forwarded traffic');
    } catch (e) {
      add('warn', `cannot read the host's nftables ruleset: ${(e as Error).message}`);
    }
    await cidrConstraints(n, add);
    const legacy = read('/proc/net/ip_tables_names');
    if (legacy) add('warn', `legacy iptables tables are loaded (${legacy.split('\n').join(', ')}): doctor cannot read them`, "check 'iptables-legacy -S FORWARD' for a DROP policy");
  }

  const failed = findings.filter((f) => f.level === 'fail').length;
  if (printData(o, { ok: failed === 0, findings })) return failed ? 1 : 0;
  const c = color();
  const mark: Record<Level, string> = { ok: c.green('✔'), warn: c.yellow('!'), fail: c.red('✘') };
  for (const f of findings) {
    print(`${mark[f.level]} ${f.text}`);
    if (f.fix && f.level !== 'ok') print(`    fix: ${f.fix}`);
  }
  print(failed ? c.red(`\nvpcctl cannot work here: ${count(failed, 'problem')} above`) : c.green('\nvpcctl can work on this host'));
  return failed ? 1 : 0;
}

/**
 * What a new VPC or public subnet may not overlap (vpcctl refuses those):
 * the transit pool and the host's routes that are not vpcctl's.
 */
async function cidrConstraints(n: Native, add: (l: Level, t: string, f?: string) => void): Promise<void> {
  let pool = process.env.VPCCTL_TRANSIT_POOL ?? DEFAULT_TRANSIT_POOL;
  try {
    pool = (await new StateStore(stateDirFrom()).read()).transitPool;
  } catch { /* no readable state: the pool a first VPC would get */ }
  let view: Awaited<ReturnType<Native['netView']>>;
  try {
    view = await n.netView('');
  } catch (e) {
    return add('warn', `cannot read the host's routes: ${(e as Error).message}`);
  }
  const lines = [`transit pool ${pool}`, ...constrainingRoutes(view).map((r) => `route ${describeRoute(r)}`)];
  add('ok', `new VPCs and public subnets must not overlap (vpcctl refuses them):${lines.map((l) => `\n      ${l}`).join('')}`);
  // A dual-stack VPC's global IPv6 prefix is routed by the host (README, Dual-stack VPCs): the same idea.
  const { routes6, addrs6 } = await hostIpv6();
  const lines6 = [...new Set(rootConstraints6(view, routes6, addrs6, {}).filter((k) => touchesGlobal6(k.cidr))
    .map((k) => k.text.replace(/^the host route /, 'route ').replace(/^the host's own /, '')))];
  if (lines6.length) add('ok', `new routed (global) IPv6 prefixes must not overlap:${lines6.map((l) => `\n      ${l}`).join('')}`);
}

/** Make a scratch namespace with a veth and a NAT table in it, then remove it all. */
async function tryKernel(n: Native, add: (l: Level, t: string, f?: string) => void): Promise<void> {
  const ns = `vpcctl-doctor-${process.pid}`;
  try {
    await n.netnsAdd(ns, 'vpcctl-doctor');
    add('ok', 'network namespaces');
    await n.vethAdd({ ns, name: 'doc0', peerNs: ns, peerName: 'doc1' });
    add('ok', 'veth pairs');
    await n.nftApply(ns, NFT_FAMILY, 'doctor', JSON.stringify([
      { chain: { family: NFT_FAMILY, table: 'doctor', name: 'post', type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } },
      { rule: { family: NFT_FAMILY, table: 'doctor', chain: 'post', expr: [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'doc0' } }, { masquerade: null }] } },
    ]));
    add('ok', 'nf_tables with nat and masquerade');
  } catch (e) {
    add('fail', `kernel feature missing: ${(e as Error).message}`, 'a kernel with CONFIG_NET_NS, CONFIG_VETH, CONFIG_NF_TABLES, CONFIG_NFT_NAT, CONFIG_NFT_MASQ');
  } finally {
    await n.netnsDel(ns).catch(() => undefined);
  }
}
