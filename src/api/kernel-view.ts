import { native } from '../native.js';
import { IP6_FORWARD, IP_FORWARD, ROOT_NS } from '../model/names.js';
import type { KernelView } from '../plan/planner.js';

/** What the planner needs of the kernel besides drift: the namespaces and the host's forwarding. */
export async function readKernelView(): Promise<KernelView> {
  const n = await native();
  const [namespaces, hostForward, hostForward6] = await Promise.all([
    n.netnsList(),
    n.sysctlGet(ROOT_NS, IP_FORWARD),
    // Absent on a host without IPv6: then no dual-stack VPC gets a gateway anyway.
    n.sysctlGet(ROOT_NS, IP6_FORWARD).then((v) => v.trim(), () => undefined),
  ]);
  return { namespaces: new Set(namespaces), hostForward: hostForward.trim(), ...(hostForward6 !== undefined ? { hostForward6 } : {}) };
}
