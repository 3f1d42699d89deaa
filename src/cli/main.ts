import { Command, CommanderError, Option } from 'commander';
import { VpcctlError } from '../errors.js';
import { Vpcctl } from '../api/vpcctl.js';
import { ROUTER_GATEWAY_LINK } from '../model/names.js';
import { parsePort as port } from '../model/ports.js';
import { bad, count, dim, ok, progress, reportChange, warn } from './output.js';
import { print, writeErr, writeOut } from './stdio.js';
import { version } from './version.js';
import { clusterConfigured } from '../cluster/config.js';
import { registerCluster } from './cluster.js';
import { readDocument } from './document.js';
import type { PolicyInput } from '../model/schema.js';
import { canAsk, confirmed } from './confirm.js';
import { goingLines, registerTopologyCommands } from './topology-commands.js';
import { formatOf, listTable, printData, printList, withOutput } from './format.js';
import { views } from './views.js';
import { registerCompletion, markRequired, nonNegativeInt, prefixed, unknownCommandFirst, withHint } from './args.js';
import { registerFlowLogs } from './flow-logs.js';
import { registerUi } from './ui.js';
import { registerGraph } from './graph.js';

/** Commands that work without root: they read nothing privileged or explain why root is needed. */
const NO_ROOT = new Set(['doctor', 'help', 'completion', '__complete']);

/** A cluster is configured (one stat): the command writes the cluster's intent in etcd instead. */
const clustered = (cmd: Command) => clusterConfigured(cmd.optsWithGlobals<{ cluster?: string }>().cluster);
/** Commands whose objects the cluster's intent does not hold yet: refused there rather than made on this host only. */
const localOnly = (cmd: Command, what: string) => {
  if (clustered(cmd)) throw new VpcctlError('INVALID_INPUT', `${what} is not available in cluster mode yet`);
};
const clusterCli = () => import('./cluster-writes.js');

const api = (cmd: Command) => {
  const g = cmd.optsWithGlobals<{ stateDir?: string }>();
  return new Vpcctl({ stateDir: g.stateDir });
};

export function buildProgram(): Command {
  const program = new Command('vpcctl')
    .description('AWS-style virtual private clouds on one Linux host (network namespaces, veth, routes, nftables)')
    .version(version(), '-V, --version')
    .option('--state-dir <dir>', 'state directory (default: $VPCCTL_STATE_DIR or /var/lib/vpcctl)')
    .option('--cluster <file>', 'cluster file (default: $VPCCTL_CLUSTER or /etc/vpcctl/cluster.json; absent: one host)')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut, writeErr: (s) => writeErr(s.startsWith('error:') ? `vpcctl: ${s.slice(7)}` : s) });
  markRequired(program);

  program.hook('preAction', (_root, cmd) => {
    if (!NO_ROOT.has(cmd.name()) && process.getuid?.() !== 0) {
      throw new VpcctlError('NOT_ROOT', `${cmd.name()} needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): run it with sudo`);
    }
  });

  // --- VPCs and subnets ----------------------------------------------------
  program.command('create-vpc').description('create a VPC: its router namespace, internet gateway and firewall table')
    .requiredOption('--name <name>', 'VPC name').requiredOption('--cidr <cidr>', 'VPC CIDR, /8 to /28')
    .option('--uplink <iface>', "host interface for internet traffic (default: the default route's)")
    .option('--ipv6-cidr <cidr>', 'dual-stack: the IPv6 prefix, /44 to /60 (fd00:10::/56: NAT66; a global one routed to this host: routed)')
    .option('--ipv6', "dual-stack with a /56 of fd00::/8 derived from the VPC's name")
    .action(async (o, cmd) => {
      if (clustered(cmd)) {
        if (o.ipv6Cidr !== undefined || o.ipv6) throw new VpcctlError('INVALID_INPUT', '--ipv6-cidr and --ipv6 are not supported in cluster mode yet');
        return (await clusterCli()).createVpc(cmd, o);
      }
      const r = await api(cmd).createVpc({ name: o.name, cidr: o.cidr, uplink: o.uplink, ipv6Cidr: o.ipv6Cidr, ipv6: o.ipv6 });
      reportChange(r, `vpc ${o.name}`);
    });
  program.command('delete-vpc').description('delete a VPC with its subnets, apps and peerings (asks first on a terminal)')
    .requiredOption('--name <name>', 'VPC name').option('-y, --yes', 'do not ask for confirmation')
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).deleteVpc(cmd, o.name);
      const v = api(cmd);
      if (canAsk() && !o.yes) {
        const dry = await v.deleteVpc({ name: o.name }, { dryRun: true });
        if (!(await confirmed(goingLines(dry.diff), { what: `Delete vpc ${o.name}` }))) return;
      }
      reportChange(await v.deleteVpc({ name: o.name }), `delete vpc ${o.name}`);
    });
  program.command('create-subnet').description("create a subnet: a host namespace routed by the VPC's router")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--name <name>', 'subnet name')
    .option('--cidr <cidr>', 'subnet CIDR inside the VPC, /8 to /30; left out in a dual-stack VPC: an IPv6-only subnet')
    .addOption(new Option('--type <type>', 'public (internet via NAT) or private').default('private'))
    .option('--egress <egress>', "private subnets: nat (outbound internet through the VPC's NAT gateway) or none (default)")
    .option('--host <name>', 'cluster host to run the subnet on (default: spread over live hosts)')
    .option('--ipv6-cidr <cidr>', "dual-stack VPCs: the subnet's IPv6 /64 (default: the next free one)")
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).createSubnet(cmd, o);
      if (o.host !== undefined) throw new VpcctlError('INVALID_INPUT', '--host needs a cluster: run \'vpcctl cluster join\' first');
      const r = await api(cmd).createSubnet({ vpc: o.vpc, name: o.name, cidr: o.cidr, type: o.type, egress: o.egress, ipv6Cidr: o.ipv6Cidr });
      reportChange(r, `subnet ${o.vpc}/${o.name}`);
    });
  program.command('set-egress').description("set a private subnet's internet egress: nat (outbound only, through the NAT gateway) or none")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--subnet <name>', 'subnet name')
    .argument('<egress>', 'nat or none')
    .action(async (egress: string, o, cmd) => {
      localOnly(cmd, 'set-egress');
      const r = await api(cmd).setEgress({ vpc: o.vpc, subnet: o.subnet, egress: egress as 'nat' | 'none' });
      reportChange(r, `egress ${egress} on ${o.vpc}/${o.subnet}`);
    });
  program.command('delete-subnet').description('delete a subnet and its apps')
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--name <name>', 'subnet name')
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).deleteSubnet(cmd, o.vpc, o.name);
      reportChange(await api(cmd).deleteSubnet({ vpc: o.vpc, subnet: o.name }), `delete subnet ${o.vpc}/${o.name}`);
    });
  withOutput(program.command('list-vpcs').description('list VPCs'), { list: true })
    .action(async (o, cmd) => (clustered(cmd) ? (await clusterCli()).listVpcs(cmd, o) : printList(o, await api(cmd).list(), views.vpcs)));
  withOutput(program.command('show-vpc').description('show a VPC: gateway, subnets, peerings, apps')
    .argument('[vpc]', 'VPC name (or --name)').option('--name <name>', 'VPC name'), { list: true })
    .action(async (vpc: string | undefined, o, cmd) => {
      // `show-vpc NAME` as kubectl's `get TYPE NAME` (and what Tab completes); --name as before.
      if (vpc !== undefined && o.name !== undefined && vpc !== o.name) throw new VpcctlError('INVALID_INPUT', `show-vpc: two names (${vpc}, --name ${o.name}): give one`);
      const name = vpc ?? o.name;
      if (name === undefined) throw new VpcctlError('INVALID_INPUT', 'show-vpc needs a VPC name: vpcctl show-vpc NAME (or --name NAME)');
      if (clustered(cmd)) return (await clusterCli()).showVpc(cmd, { ...o, name });
      const v = await api(cmd).show({ name });
      if (printData(o, v)) return;
      if (o.quiet) return v.subnetDetails.forEach((s) => print(s.name));
      print(`VPC ${v.name}  ${v.cidr}${v.ipv6Cidr ? `  ${v.ipv6Cidr}` : ''}  router namespace ${v.router}`);
      print(v.gateway
        ? `internet gateway: uplink ${v.gateway.uplink}, transit ${v.gateway.transit} (host ${v.gateway.hostAddress} on ${v.gateway.hostLink}, router ${v.gateway.routerAddress} on ${ROUTER_GATEWAY_LINK})`
        : 'internet gateway: none (no uplink)');
      if (v.gateway?.ipv6) {
        print(v.gateway.ipv6 === 'routed'
          ? `IPv6 internet: routed, no NAT66 (a global prefix: the host routes ${v.ipv6Cidr} to the router)`
          : `IPv6 internet: NAT66 (not a global prefix: translated to the uplink's address)`);
      }
      if (v.flowLogs) print("flow logs: on ('vpcctl flow-logs --vpc " + v.name + " --follow')");
      if (v.peerings.length) print(`peered with: ${v.peerings.map((p) => `${p.peer} (${p.peerCidr})`).join(', ')}`);
      for (const p of v.published) print(`published: ${p.address}:${p.hostPort}/${p.protocol} -> ${p.targets.map((t) => t.subnet).join(', ')} port ${p.port}`);
      if (v.subnetDetails.length) print(listTable(o, v.subnetDetails, views.subnets));
    });
  withOutput(program.command('status').description('compare the state with the kernel; exit 1 on drift'))
    .action(async (o, cmd) => {
      const s = await api(cmd).status();
      if (!s.ok) process.exitCode = 1;
      if (printData(o, s)) return;
      if (s.ok) print(ok('in sync: the kernel matches the state'));
      else {
        const running = s.inProgress ? `vpcctl${s.inProgress.pid ? ` pid ${s.inProgress.pid}` : ''}` : '';
        if (running) print(`${bad('busy')}      a change is in progress (${running} holds the state's lock): what it makes or deletes shows below until it ends; run status again then`);
        for (const ns of s.missing) print(`${bad('missing')}   netns ${ns} (in the state, not in the kernel): 'vpcctl apply' or re-run the create`);
        for (const ns of s.orphaned) print(`${bad('orphaned')}  netns ${ns} (tagged vpcctl's, not in the state): 'vpcctl cleanup-all' removes it`);
        for (const ns of s.pending) print(`${bad('pending')}   netns ${ns} ${running ? `(being changed by ${running})` : '(a run stopped mid-change): the next command repairs it'}`);
        for (const ns of s.ignored) print(`${bad('ignored')}   pending entry ${JSON.stringify(ns)} is no vpcctl namespace name: nothing is done to it, the next command drops it from the state`);
        for (const d of s.drift) {
          print(`${bad('drift')}     ${d.object}: ${d.detail}`);
          if (d.fix) print(`          ${d.fix}`);
        }
        // A drift with a fix is one no command of vpcctl's repairs while it stands (a foreign route or link).
        const first = s.drift.some((d) => d.fix) ? 'after the fixes above, ' : '';
        if (s.drift.length) print(`repair: ${first}'vpcctl apply -f FILE' of the unchanged file, or any command on that VPC (create-subnet, apply-policy, ...)`);
      }
    });
  program.command('cleanup-all').description("remove every kernel object tagged as vpcctl's, and the state (asks first on a terminal)")
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (o, cmd) => {
      const v = api(cmd);
      if (canAsk() && !o.yes) {
        const dry = await v.cleanupAll({ dryRun: true });
        const lines = [...dry.namespaces.map((ns) => `  - netns ${ns}`), ...dry.links.map((l) => `  - host link ${l}`)];
        if (!(await confirmed(['This will delete every object tagged as vpcctl\'s, and the state:', ...lines, "  - vpcctl's host nftables table"], { what: 'Remove all of it' }))) return;
      }
      const r = await v.cleanupAll();
      for (const w of r.warnings) warn(w);
      print(`removed ${count(r.namespaces.length, 'namespace')}, ${count(r.links.length, 'host link')}, ${count(r.files.length, 'file')} under /etc/netns and vpcctl's host table${r.ipForwardRestored !== undefined ? `; ip_forward restored to ${r.ipForwardRestored}` : ''}`);
      if (r.ipForwardLeft !== undefined) print(`ip_forward left at ${r.ipForwardLeft}: something else changed it after vpcctl set it to 1`);
    });

  // --- peering and policies ------------------------------------------------
  program.command('peer-vpcs').description('peer two VPCs (not transitive)')
    .requiredOption('--vpc1 <vpc>', 'first VPC').requiredOption('--vpc2 <vpc>', 'second VPC')
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).peer(cmd, o.vpc1, o.vpc2);
      reportChange(await api(cmd).peer({ vpc1: o.vpc1, vpc2: o.vpc2 }), `peering ${o.vpc1} <-> ${o.vpc2}`);
    });
  program.command('unpeer-vpcs').description('remove a peering')
    .requiredOption('--vpc1 <vpc>', 'first VPC').requiredOption('--vpc2 <vpc>', 'second VPC')
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).unpeer(cmd, o.vpc1, o.vpc2);
      reportChange(await api(cmd).unpeer({ vpc1: o.vpc1, vpc2: o.vpc2 }), `unpeer ${o.vpc1} <-> ${o.vpc2}`);
    });
  withOutput(program.command('list-peerings').description('list peerings'), { list: true })
    .action(async (o, cmd) => printList(o, await api(cmd).peerings(), views.peerings));
  program.command('apply-policy').description("replace a subnet's security policy (JSON) atomically")
    .requiredOption('--vpc <vpc>', 'VPC name').option('--subnet <name>', "subnet name (default: the one the policy's \"subnet\" names)")
    .requiredOption('--policy <file>', 'policy JSON file')
    .action(async (o, cmd) => {
      const policy = await readDocument(o.policy, 'policy');
      if (clustered(cmd)) return (await clusterCli()).applyPolicy(cmd, o.vpc, o.subnet, policy);
      const r = await api(cmd).applyPolicy({ vpc: o.vpc, subnet: o.subnet, policy: policy as PolicyInput });
      reportChange(r, `policy on ${o.vpc}/${r.value}`);
    });
  withOutput(program.command('show-policy').description("show a subnet's policy rules with their packet counters")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--subnet <name>', 'subnet name'), { list: true })
    .action(async (o, cmd) => {
      const r = await api(cmd).showPolicy({ vpc: o.vpc, subnet: o.subnet });
      if (printData(o, r)) return;
      if (!r.policy) return print(`subnet ${o.vpc}/${o.subnet} has no policy (everything allowed)`);
      if (!o.quiet && o.headers !== false) print(`policy of ${o.vpc}/${o.subnet}: default ${r.policy.default}`);
      // The state's policy is what was asked for: say so when the kernel no longer enforces it.
      for (const d of r.drift) print(`${bad('NOT ENFORCED')}: ${d} ('vpcctl apply-policy' of the same policy, or 'vpcctl apply', repairs it)`);
      // Built-in rules (replies, loopback) only with -o wide: the table is about the user's rules.
      printList(o, formatOf(o) === 'wide' ? r.rules : r.rules.filter((x) => x.rule.includes('[')), views.rules);
    });
  program.command('remove-policy').description("remove a subnet's policy")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--subnet <name>', 'subnet name')
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).removePolicy(cmd, o.vpc, o.subnet);
      reportChange(await api(cmd).removePolicy({ vpc: o.vpc, subnet: o.subnet }), `remove policy ${o.vpc}/${o.subnet}`);
    });

  // --- published ports -----------------------------------------------------
  const protocol = () => new Option('--protocol <protocol>', 'tcp or udp').choices(['tcp', 'udp']).default('tcp');
  const list = (text: string) => text.split(',').map((s) => s.trim());
  program.command('publish').description("publish a subnet's port on the host (several subnets: --targets spreads new connections over them)")
    .requiredOption('--vpc <vpc>', 'VPC name').option('--subnet <name>', 'the subnet').option('--targets <names>', 'several subnets, comma-separated', list)
    .requiredOption('--port <port>', "port of the subnet's host", port).requiredOption('--host-port <port>', 'port on the host', port)
    .addOption(protocol()).option('--address <addr>', "host address to publish on (default: the uplink's address)")
    .action(async (o, cmd) => {
      localOnly(cmd, 'publish');
      const r = await api(cmd).publish({ vpc: o.vpc, subnet: o.subnet, targets: o.targets, port: o.port, hostPort: o.hostPort, protocol: o.protocol, address: o.address });
      const p = r.value;
      reportChange(r, `publish ${p.address}:${p.hostPort}/${p.protocol} -> ${p.targets.map((t) => `${o.vpc}/${t.subnet}`).join(', ')} port ${p.port}`);
    });
  program.command('unpublish').description('remove a published port, or some of its targets (--targets)')
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--host-port <port>', 'port on the host', port).addOption(protocol())
    .option('--targets <names>', 'only these subnets leave the publish, comma-separated', list)
    .action(async (o, cmd) => {
      localOnly(cmd, 'unpublish');
      const r = await api(cmd).unpublish({ vpc: o.vpc, hostPort: o.hostPort, protocol: o.protocol, targets: o.targets });
      reportChange(r, `unpublish ${o.protocol}/${o.hostPort} of ${o.vpc}${o.targets ? ` from ${o.targets.join(', ')}` : ''}`);
    });
  withOutput(program.command('list-published').description('list published ports').option('--vpc <vpc>', 'only this VPC'), { list: true })
    .action(async (o, cmd) => {
      localOnly(cmd, 'list-published');
      printList(o, await api(cmd).listPublished({ vpc: o.vpc }), views.published);
    });

  registerFlowLogs(program, api, localOnly);

  // --- apps and connectivity -----------------------------------------------
  program.command('deploy-app').description("start an app in a subnet's host (default: a small HTTP server)")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--subnet <name>', 'subnet name')
    .requiredOption('--port <port>', 'TCP port', port)
    .option('--command <cmd>', 'command line to run instead of the built-in server (run by /bin/sh)')
    .option('--user <user>', 'user to run as', 'nobody')
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).deployApp(cmd, o);
      const a = await api(cmd).deployApp({ vpc: o.vpc, subnet: o.subnet, port: o.port, command: o.command, user: o.user });
      print(`app on ${o.vpc}/${o.subnet}:${a.port} running as ${a.user} (pid ${a.pid}); log: ${a.logFile}`);
    });
  withOutput(program.command('list-apps').description('list apps and whether they run').option('--vpc <vpc>', 'only this VPC'), { list: true })
    .action(async (o, cmd) => printList(o, await api(cmd).listApps({ vpc: o.vpc }), views.apps));
  program.command('stop-app').description("stop a subnet's apps (or the one on --port)")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--subnet <name>', 'subnet name').option('--port <port>', 'TCP port', port)
    .action(async (o, cmd) => {
      if (clustered(cmd)) return (await clusterCli()).stopApp(cmd, o);
      const stopped = await api(cmd).stopApp({ vpc: o.vpc, subnet: o.subnet, port: o.port });
      print(stopped.length ? `stopped ${stopped.map((a) => `port ${a.port} (pid ${a.pid})`).join(', ')}` : 'no app to stop');
    });
  program.command('logs').description("print an app's log")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--subnet <name>', 'subnet name')
    .option('--port <port>', "the app's TCP port (default: the subnet's only app)", port)
    .option('-f, --follow', 'keep printing what the app writes, until it exits').option('--tail <lines>', 'only the last N lines', nonNegativeInt)
    .action(async (o, cmd) => {
      const app = await api(cmd).findApp({ vpc: o.vpc, subnet: o.subnet, port: o.port });
      await (await import('./logs.js')).printLog(app, { tail: o.tail, follow: o.follow });
    });
  withOutput(program.command('test-connectivity').description('probe from one subnet to another (ICMP, and TCP with --port); exit 1 when unreachable')
    .option('--vpc <vpc>', 'source VPC').option('--from-subnet <name>', 'source subnet').option('--to-subnet <name>', 'target subnet')
    .option('--to-vpc <vpc>', 'target VPC (default: the source VPC)').option('--port <port>', 'also try a TCP connect', port))
    .option('--all', 'every subnet against every subnet (ICMP; ICMPv6 where a subnet is IPv6-only): a summary and the pairs that differ from what policies and peerings predict; exit 1 when any does')
    .option('--matrix', 'with --all: the full grid')
    .option('--family <family>', 'address family probed: 4, 6 or both (dual-stack subnets); default 4, or 6 where a subnet is IPv6-only')
    .action(async (o, cmd) => {
      const v = api(cmd);
      const family = o.family === undefined ? undefined : o.family === '4' ? 4 : o.family === '6' ? 6 : o.family === 'both' ? 'both' : null;
      if (family === null) throw new VpcctlError('INVALID_INPUT', `--family ${String(o.family)} is invalid: use 4, 6 or both`);
      if (o.all && family !== undefined && family !== 4) throw new VpcctlError('INVALID_INPUT', '--all probes IPv4, and IPv6 where a subnet is IPv6-only: leave out --family');
      if (o.all) return (await import('./connectivity.js')).testAll(v, o);
      if (o.matrix) throw new VpcctlError('INVALID_INPUT', '--matrix goes with --all');
      if (!o.vpc || !o.fromSubnet || !o.toSubnet) throw new VpcctlError('INVALID_INPUT', 'test-connectivity needs --vpc, --from-subnet and --to-subnet (or --all)');
      const r = await v.testConnectivity({ vpc: o.vpc, fromSubnet: o.fromSubnet, toSubnet: o.toSubnet, toVpc: o.toVpc, port: o.port, family });
      if (!printData(o, r)) {
        const line = (what: string, p: { ok: boolean; rttMs?: number; error?: string }) =>
          print(`${what}: ${p.ok ? ok(`reachable (${p.rttMs?.toFixed(2)} ms)`) : bad(`unreachable${p.error ? ` (${p.error})` : ''}`)}`);
        print(`${r.from.vpc}/${r.from.subnet} (${r.from.address}) -> ${r.to.vpc}/${r.to.subnet} (${r.to.address})`);
        line(r.to.address.includes(':') ? 'icmpv6' : 'icmp', r.icmp);
        if (r.tcp) line(`tcp ${r.tcp.port}`, r.tcp);
        if (r.ipv6) {
          print(`IPv6: ${r.ipv6.from} -> ${r.ipv6.to}`);
          line('icmpv6', r.ipv6.icmp);
          if (r.ipv6.tcp) line(`tcp ${r.ipv6.tcp.port}`, r.ipv6.tcp);
        }
      }
      if (!r.reachable) process.exitCode = 1;
    });
  program.command('exec').description("run a command inside a subnet's host namespace")
    .requiredOption('--vpc <vpc>', 'VPC name').requiredOption('--subnet <name>', 'subnet name')
    .argument('<command...>', 'command and arguments (after --)')
    .configureOutput(withHint('put the command to run after --, so that its options are not taken for vpcctl\'s: vpcctl exec --vpc VPC --subnet SUBNET -- COMMAND [ARGS...]'))
    .action(async (argv: string[], o, cmd) => {
      process.exitCode = await api(cmd).exec({ vpc: o.vpc, subnet: o.subnet, command: argv });
    });

  // --- topology files, pictures, diagnostics -------------------------------
  registerTopologyCommands(program, api, {
    clustered,
    apply: async (cmd, doc, prune) => (await clusterCli()).apply(cmd, doc, prune),
    destroy: async (cmd, doc) => (await clusterCli()).destroy(cmd, doc),
  });
  registerGraph(program, api);
  withOutput(program.command('doctor').description('check that this host can run vpcctl, and explain what would get in the way'))
    .action(async (o) => { process.exitCode = await (await import('./doctor.js')).doctor(o); });
  program.command('demo').description("walk the seed's scenario in a throwaway sandbox with a simulated internet")
    .option('--keep', 'keep the topology until Enter is pressed')
    .action(async (o) => { process.exitCode = await (await import('./demo.js')).demo({ keep: !!o.keep }); });
  registerUi(program, api, localOnly);
  registerCluster(program);
  registerCompletion(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(unknownCommandFirst(program, argv));
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2; // commander has printed the message
    }
    if (e instanceof VpcctlError) {
      // Several problems (a topology's): one line each, each with the prefix.
      writeErr(e.message.split('\n').map((line) => `${prefixed(line)}\n`).join(''));
      return e.exitCode;
    }
    writeErr(`${prefixed((e as Error).message ?? String(e))}\n`);
    return 1;
  }
}

/**
 * Runs, without touching state or kernel, the code most calls run: building
 * the command tree and reading a topology. The build calls it before saving
 * V8's code cache of the CLI bundle (bin/compile-cache.cjs), so that code is
 * in the cache instead of compiled on every call.
 */
export async function warmUp(): Promise<void> {
  buildProgram();
  const { readTopology } = await import('../api/topology.js');
  readTopology({
    vpcs: [
      { name: 'a', cidr: '10.0.0.0/16', subnets: [{ name: 'web', cidr: '10.0.1.0/24', type: 'public', policy: { ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }] }, apps: [{ port: 8080 }] }] },
      { name: 'b', cidr: '10.1.0.0/16', subnets: [{ name: 'db', cidr: '10.1.1.0/24', type: 'private' }] },
    ],
    peerings: [{ vpc1: 'a', vpc2: 'b' }],
  });
}
