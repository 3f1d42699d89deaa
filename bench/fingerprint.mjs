#!/usr/bin/env node
// What a builder made, normalized, so run.sh can check that vpcctl, the
// seed's way and the floor really build the same kernel objects (otherwise
// the ratios compare different work). Reads the router namespace whole and
// a sample of subnet hosts (first, second, last): links with state and
// alias, IPv4 addresses, main-table routes, the sysctls vpcctl sets, and the
// `inet vpcctl` table without handles and counter values. Route protocol is
// left out: `ip route add` says boot, netlink clients say static.
//
//   node bench/fingerprint.mjs VPC N > fingerprint.json
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const [vpc = 'bench', nArg = '0'] = process.argv.slice(2);
const n = Number(nArg);

const run = (args) => {
  try {
    return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
};
const ipj = (ns, ...args) => JSON.parse(run(['ip', '-j', '-n', ns, ...args]) ?? '[]');

function describe(ns, sysctls) {
  const links = ipj(ns, 'link', 'show').map((l) => ({
    name: l.ifname, up: l.flags.includes('UP'), alias: l.ifalias ?? null,
  }));
  const addrs = ipj(ns, '-4', 'addr', 'show').flatMap((l) =>
    l.addr_info.filter((a) => a.local !== '127.0.0.1').map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`));
  const routes = ipj(ns, '-4', 'route', 'show', 'table', 'main').map((r) =>
    [r.dst, r.gateway && `via ${r.gateway}`, `dev ${r.dev}`, r.scope && `scope ${r.scope}`].filter(Boolean).join(' '));
  const sysctl = Object.fromEntries(sysctls.map((k) =>
    [k, (run(['ip', 'netns', 'exec', ns, 'cat', `/proc/sys/${k}`]) ?? 'missing').trim()]));
  const nft = (run(['ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'vpcctl']) ?? 'missing')
    .replace(/counter packets \d+ bytes \d+/g, 'counter')
    .split('\n').map((l) => l.trim()).filter(Boolean);
  return { links: links.sort((a, b) => a.name.localeCompare(b.name)), addrs: addrs.sort(), routes: routes.sort(), sysctl, nft };
}

let namespaces = [];
try {
  namespaces = readdirSync('/run/netns').sort();
} catch {}
const expected = [`vpcr-${vpc}`, ...Array.from({ length: n }, (_, i) => `ns-${vpc}-s${i}`)].sort();
const sample = [...new Set([0, 1, n - 1])].filter((i) => i >= 0 && i < n);

const out = {
  namespaces: { count: namespaces.length, asExpected: JSON.stringify(namespaces) === JSON.stringify(expected) },
  router: describe(`vpcr-${vpc}`, ['net/ipv6/conf/all/disable_ipv6', 'net/ipv6/conf/default/disable_ipv6', 'net/ipv4/ip_forward', 'net/ipv4/conf/all/rp_filter', 'net/ipv4/conf/default/rp_filter', 'net/ipv4/conf/all/proxy_arp']),
  hosts: Object.fromEntries(sample.map((i) => [`s${i}`, describe(`ns-${vpc}-s${i}`, ['net/ipv4/ip_unprivileged_port_start'])])),
};
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
