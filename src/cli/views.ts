import type { VpcSummary, SubnetDetail } from '../api/inspect.js';
import type { AppInfo } from '../api/apps.js';
import type { Publish } from '../api/vpcctl.js';
import type { PeeringState } from '../state/types.js';
import type { RuleCounter } from '../api/policy-report.js';
import type { ClusterSubnet } from '../cluster/inspect.js';
import type { ListSpec } from './format.js';
import { bad, ok } from './output.js';

/**
 * The columns of each list: the table shows what a person scans for,
 * `-o wide` adds what does not fit a terminal, `-q` prints the name a
 * later command takes.
 */
export const views = {
  vpcs: {
    empty: 'no VPCs',
    name: (v) => v.name,
    columns: [
      { head: 'VPC', get: (v) => v.name },
      { head: 'CIDR', get: (v) => v.cidr },
      { head: 'IPV6 CIDR', get: (v) => v.ipv6Cidr ?? '-', wide: true },
      { head: 'SUBNETS', get: (v) => v.subnets },
      { head: 'PUBLIC', get: (v) => v.public },
      { head: 'PRIVATE', get: (v) => v.private },
      { head: 'PEERS', get: (v) => v.peers.join(',') || '-' },
      { head: 'UPLINK', get: (v) => v.uplink ?? '(none)' },
    ],
  } satisfies ListSpec<VpcSummary>,
  subnets: {
    empty: 'no subnets',
    name: (s) => s.name,
    columns: [
      { head: 'SUBNET', get: (s) => s.name },
      // An IPv6-only subnet's one block is its /64 (its HOST and GATEWAY are IPv6 too).
      { head: 'CIDR', get: (s) => s.cidr ?? s.ipv6Cidr ?? '-' },
      { head: 'IPV6 CIDR', get: (s) => s.ipv6Cidr ?? '-', wide: true },
      { head: 'TYPE', get: (s) => s.type },
      { head: 'EGRESS', get: (s) => s.egress },
      { head: 'HOST', get: (s) => s.host },
      { head: 'NAME', get: (s) => s.dnsName },
      { head: 'POLICY', get: (s) => (s.policy ? 'yes' : '-') },
      { head: 'APPS', get: (s) => s.apps.map((a) => `${a.port}${a.running ? '' : ' (exited)'}`).join(',') || '-' },
      { head: 'NAMESPACE', get: (s) => s.namespace, wide: true },
      { head: 'GATEWAY', get: (s) => s.gateway, wide: true },
    ],
  } satisfies ListSpec<SubnetDetail>,
  /** show-vpc on a cluster host: where each subnet runs. */
  clusterSubnets: {
    empty: 'no subnets',
    name: (s) => s.name,
    columns: [
      { head: 'SUBNET', get: (s) => s.name },
      { head: 'CIDR', get: (s) => s.cidr },
      { head: 'TYPE', get: (s) => s.type },
      { head: 'EGRESS', get: (s) => s.egress },
      { head: 'ON HOST', get: (s) => s.host },
      { head: 'POLICY', get: (s) => (s.policy ? 'yes' : '-') },
      { head: 'APPS', get: (s) => s.apps.join(',') || '-' },
    ],
  } satisfies ListSpec<ClusterSubnet>,
  peerings: {
    empty: 'no peerings',
    name: (p) => `${p.vpc1}-${p.vpc2}`,
    columns: [
      { head: 'VPC 1', get: (p) => p.vpc1 },
      { head: 'VPC 2', get: (p) => p.vpc2 },
      { head: 'LINK', get: (p) => p.link, wide: true },
    ],
  } satisfies ListSpec<PeeringState>,
  published: {
    empty: 'no published ports',
    name: (p) => `${p.hostPort}/${p.protocol}`,
    columns: [
      { head: 'HOST ADDRESS', get: (p) => p.address },
      { head: 'HOST PORT', get: (p) => p.hostPort },
      { head: 'PROTOCOL', get: (p) => p.protocol },
      { head: 'VPC', get: (p) => p.vpc },
      { head: 'TARGETS', get: (p) => p.targets.map((t) => `${t.subnet} (${t.host})`).join(', ') },
      { head: 'PORT', get: (p) => p.port },
    ],
  } satisfies ListSpec<Publish>,
  apps: {
    empty: 'no apps',
    name: (a) => `${a.vpc}/${a.subnet}:${a.port}`,
    columns: [
      { head: 'VPC', get: (a) => a.vpc },
      { head: 'SUBNET', get: (a) => a.subnet },
      { head: 'PORT', get: (a) => a.port },
      { head: 'PID', get: (a) => a.pid },
      { head: 'STATE', get: (a) => (a.running ? ok('running') : bad('exited')) },
      { head: 'USER', get: (a) => a.user, wide: true },
      { head: 'COMMAND', get: (a) => a.command.join(' '), wide: true },
    ],
  } satisfies ListSpec<AppInfo>,
  rules: {
    empty: 'no rules',
    name: (r) => r.text,
    columns: [
      { head: 'DIRECTION', get: (r) => r.chain },
      { head: 'RULE', get: (r) => r.text },
      { head: 'PACKETS', get: (r) => r.packets },
      { head: 'BYTES', get: (r) => r.bytes },
      { head: 'ORIGIN', get: (r) => r.rule, wide: true },
    ],
  } satisfies ListSpec<RuleCounter>,
};
