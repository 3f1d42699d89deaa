import type { NftObject } from '../firewall/nft.js';
import { ROOT_NS } from '../model/names.js';

/**
 * Plan operations: the contract between the planner and the native executor.
 * docs/plan-ops.md describes their effect and undo; crates/netkit/src/plan/
 * is the Rust side. `ns: ""` (ROOT_NS) is the namespace vpcctl itself runs in: the machine's.
 */
export type Op =
  | { op: 'netnsAdd'; ns: string; tag: string }
  | { op: 'netnsDel'; ns: string }
  | {
      op: 'vethAdd';
      ns: string;
      name: string;
      alias: string;
      peerNs: string;
      peerName: string;
      peerAlias: string;
      mtu?: number;
      /** `peerNs` has no other way out (a subnet's): verify reads the `ns` end light (docs/plan-ops.md). */
      leaf?: boolean;
    }
  /** With `alias`, a link at `name` that does not carry it is someone else's: left alone. */
  | { op: 'linkDel'; ns: string; name: string; alias?: string }
  | { op: 'linkUp'; ns: string; name: string }
  | { op: 'addrAdd'; ns: string; dev: string; cidr: string }
  | { op: 'addrDel'; ns: string; dev: string; cidr: string }
  | { op: 'routeAdd'; ns: string; dst: string; dev?: string; via?: string; onlink?: boolean; src?: string }
  | { op: 'routeDel'; ns: string; dst: string; dev?: string; via?: string }
  | { op: 'sysctlSet'; ns: string; key: string; value: string }
  | { op: 'nftApply'; ns: string; family: string; table: string; ruleset: NftObject[] }
  | { op: 'nftDelete'; ns: string; family: string; table: string }
  // The cross-host data plane (docs/cluster.md): a VXLAN link whose underlay `dev` (IPv4 `local`) is in the host
  // namespace, made inside router namespace `ns`; static FDB and neighbour entries for the VPC's other routers.
  | {
      op: 'vxlanAdd';
      ns: string;
      name: string;
      vni: number;
      local: string;
      dev: string;
      port?: number;
      mtu?: number;
      alias: string;
      mac?: string;
    }
  | { op: 'fdbAdd'; ns: string; dev: string; mac: string; dst: string }
  | { op: 'fdbDel'; ns: string; dev: string; mac: string; dst: string }
  | { op: 'neighAdd'; ns: string; dev: string; addr: string; mac: string }
  | { op: 'neighDel'; ns: string; dev: string; addr: string };

/**
 * The plan as the executor reads it: the JSON array of its ops. Hosts of a
 * topology share compiled rulesets (build.ts): each distinct ruleset is
 * written once, where it first occurs, and a later op with the same one
 * gives that op's index instead (docs/plan-ops.md). Written out each time,
 * a 5,000-subnet plan was 12 MB, three quarters of it the same few policies.
 */
export function planJson(ops: readonly Op[]): string {
  const first = new Map<NftObject[], number>();
  const parts = ops.map((o, i) => {
    if (o.op !== 'nftApply') return JSON.stringify(o);
    let ruleset = first.get(o.ruleset)?.toString();
    if (ruleset === undefined) {
      ruleset = JSON.stringify(o.ruleset);
      first.set(o.ruleset, i);
    }
    const { ruleset: _written, ...rest } = o;
    return `${JSON.stringify(rest).slice(0, -1)},"ruleset":${ruleset}}`;
  });
  return `[${parts.join(',')}]`;
}

/** A one-line description of an op, for `--dry-run` and progress output. */
export function describeOp(o: Op): string {
  const where = (ns: string) => (ns === ROOT_NS ? 'host' : ns);
  switch (o.op) {
    case 'netnsAdd': return `create netns ${o.ns}`;
    case 'netnsDel': return `delete netns ${o.ns}`;
    case 'vethAdd': return `create veth ${o.name}@${where(o.ns)} <-> ${o.peerName}@${where(o.peerNs)}`;
    case 'linkDel': return `delete link ${o.name}@${where(o.ns)}`;
    case 'linkUp': return `set link ${o.name}@${where(o.ns)} up`;
    case 'addrAdd': return `add address ${o.cidr} on ${o.dev}@${where(o.ns)}`;
    case 'addrDel': return `remove address ${o.cidr} from ${o.dev}@${where(o.ns)}`;
    case 'routeAdd':
      return `add route ${o.dst}${o.via ? ` via ${o.via}` : ''}${o.dev ? ` dev ${o.dev}` : ''} in ${where(o.ns)}`;
    case 'routeDel': return `delete route ${o.dst}${o.dev ? ` dev ${o.dev}` : ''} in ${where(o.ns)}`;
    case 'sysctlSet': return `set ${o.key.replaceAll('/', '.')}=${o.value} in ${where(o.ns)}`;
    case 'nftApply': return `replace nftables table ${o.family} ${o.table} in ${where(o.ns)} (${o.ruleset.length} objects)`;
    case 'nftDelete': return `delete nftables table ${o.family} ${o.table} in ${where(o.ns)}`;
    case 'vxlanAdd': return `create vxlan ${o.name}@${where(o.ns)} vni ${o.vni} over ${o.dev}@host (${o.local})`;
    case 'fdbAdd': return `add fdb entry ${o.mac} dst ${o.dst} on ${o.dev}@${where(o.ns)}`;
    case 'fdbDel': return `delete fdb entry ${o.mac} dst ${o.dst} from ${o.dev}@${where(o.ns)}`;
    case 'neighAdd': return `add neighbour ${o.addr} lladdr ${o.mac} on ${o.dev}@${where(o.ns)}`;
    case 'neighDel': return `delete neighbour ${o.addr} from ${o.dev}@${where(o.ns)}`;
  }
}
