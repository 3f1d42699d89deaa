// Declarative topologies through the library: plan (apply with dryRun), apply, prune, destroy.
// Run as root: sudo npx tsx examples/topology.ts
import { Vpcctl, VpcctlError, type PlanDiff, type Topology } from 'vpcctl';

const v = new Vpcctl({ stateDir: process.env.VPCCTL_STATE_DIR ?? '/tmp/vpcctl-example' });

// Typed: a misspelt field (`nmae`) or a wrong value (`type: 'pubic'`) does not compile.
const topology: Topology = {
  name: 'lab', // what this topology's apply makes is its own: a later prune removes only that
  vpcs: [
    {
      name: 'blue', cidr: '10.60.0.0/16',
      subnets: [
        { name: 'web', cidr: '10.60.1.0/24', type: 'public', apps: [{ port: 80 }],
          policy: { ingress: [{ port: 80, action: 'allow' }], default: 'deny' } },
        { name: 'db', cidr: '10.60.2.0/24', type: 'private', egress: 'nat' },
      ],
    },
    { name: 'green', cidr: '10.61.0.0/16', subnets: [{ name: 'jobs', cidr: '10.61.1.0/24', type: 'private' }] },
  ],
  peerings: [{ vpc1: 'blue', vpc2: 'green' }],
};

const show = (diff: PlanDiff) => {
  for (const item of diff.items) {
    const attrs = (item.attributes ?? []).map((a) => `${a.attribute} ${a.before ?? '(none)'} -> ${a.after ?? '(none)'}`);
    console.log(`${{ create: '+', delete: '-', change: '~' }[item.action]} ${item.kind} ${item.name}${attrs.length ? `: ${attrs.join(', ')}` : ''}`);
  }
  console.log(`${diff.summary.add} to add, ${diff.summary.change} to change, ${diff.summary.delete} to delete`);
};

try {
  show((await v.apply(topology, { dryRun: true })).diff); // plan -f
  const applied = await v.apply(topology); // apply -f
  console.log(`apply: ${applied.plan.ops.length} kernel operations, ${applied.appsStarted.length} apps started`);
  const smaller: Topology = { ...topology, vpcs: topology.vpcs.filter((vpc) => vpc.name !== 'green'), peerings: [] };
  const pruned = await v.apply(smaller, { prune: true }); // apply -f --prune
  show(pruned.diff);
  for (const k of pruned.diff.kept) console.log(`kept ${k.kind} ${k.name}: ${k.reason}`);
  const destroyed = await v.destroy(smaller); // destroy -f
  console.log(`destroy: removed ${destroyed.value.join(', ')}`);
} catch (e) {
  // Every failure is a VpcctlError with a stable code; a file's problems are all in `issues`.
  if (e instanceof VpcctlError) console.error(e.code, e.issues ?? [e.message]);
  else throw e;
}
