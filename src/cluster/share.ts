import { createHash } from 'node:crypto';
import type { TopologyInput } from '../model/schema.js';
import type { Intent } from './keys.js';
import { routerHosts } from './routers.js';

/**
 * A host's share of the cluster intent, as a topology document: every VPC
 * with a router here (a subnet on the host, or a peer's: routers.ts), with
 * only its subnets placed here, their policies and apps, and the peerings
 * between two VPCs that both have a router here. The agent applies it with `prune`
 * through the same applyTopology as `vpcctl apply -f`, so one path to the
 * kernel also on a cluster host.
 */
export function hostShare(intent: Intent, host: string): TopologyInput {
  const vpcs: TopologyInput['vpcs'] = [];
  const routers = routerHosts(intent);
  for (const name of Object.keys(intent.vpcs).sort()) {
    const vpc = intent.vpcs[name]!;
    if (!routers.get(name)?.has(host)) continue;
    const here = Object.values(intent.subnets[name] ?? {}).filter((s) => s.host === host).sort((a, b) => (a.name < b.name ? -1 : 1));
    vpcs.push({
      name, cidr: vpc.cidr, ...(vpc.uplink ? { uplink: vpc.uplink } : {}),
      subnets: here.map((s) => {
        const policy = intent.policies[name]?.[s.name];
        const apps = Object.values(intent.apps[name]?.[s.name] ?? {}).sort((a, b) => a.port - b.port);
        return { name: s.name, cidr: s.cidr, type: s.type, ...(s.egress ? { egress: s.egress } : {}), ...(policy ? { policy } : {}), apps };
      }),
    });
  }
  const present = new Set(vpcs.map((v) => v.name));
  const peerings = Object.values(intent.peerings)
    .filter((p) => present.has(p.vpc1) && present.has(p.vpc2))
    .map(({ vpc1, vpc2 }) => ({ vpc1, vpc2 }))
    .sort((a, b) => (`${a.vpc1}/${a.vpc2}` < `${b.vpc1}/${b.vpc2}` ? -1 : 1));
  return { vpcs, peerings };
}

/** A short digest of a share: the agent records what it applied, `cluster status` compares. */
export const shareDigest = (share: TopologyInput): string =>
  createHash('sha256').update(JSON.stringify(share)).digest('hex').slice(0, 16);
