import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { readText } from '../api/files.js';
import { count } from './output.js';
import { join } from 'node:path';
import { get } from 'node:http';
import { createInterface } from 'node:readline/promises';
import pc from 'picocolors';
import { Vpcctl } from '../api/vpcctl.js';
import { hostNs, routerNs } from '../model/names.js';
import { SIM, buildSimInternet } from '../sim/internet.js';
import { native } from '../native.js';
import { renderMatrix } from './matrix.js';
import { type FlowLogEntry, formatEntry } from '../model/flow-logs.js';
import { APP_FETCH, APP_SERVER, CLI_BIN } from '../paths.js';


/**
 * Re-run this command in a throwaway sandbox (new network, mount and PID
 * namespaces, a tmpfs on /run, /etc copy-on-write onto it so the subnets'
 * names under /etc/netns never reach the machine's /etc): everything the
 * demo builds dies with it. `unshare` only makes the sandbox; vpcctl itself
 * spawns nothing for the kernel.
 */
const SANDBOX_STATE_DIR = '/run/vpcctl/state';

/** The sandbox's pid as the host sees it, from fd 3 (inSandbox); null when run otherwise. */
function outerPid(): string | null {
  if (process.env.VPCCTL_DEMO_PID_FD !== '3') return null;
  try {
    return readFileSync(3, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** The first child of process `pid` (unshare's fork), once it exists; null after ~5 s without one. */
async function sandboxInit(pid: number): Promise<number | null> {
  for (let i = 0; i < 100; i++) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) return Number(entry);
      } catch { /* gone meanwhile */ }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

function inSandbox(args: string[]): Promise<number> {
  const setup = `mount -t tmpfs -o mode=755 vpcctl-demo /run && mkdir -p /run/netns ${SANDBOX_STATE_DIR} /run/.demo-etc/upper /run/.demo-etc/work`
    + ' && mount -t overlay vpcctl-demo-etc -o lowerdir=/etc,upperdir=/run/.demo-etc/upper,workdir=/run/.demo-etc/work /etc && exec "$0" "$@"';
  const keep = args.includes('--keep');
  const child = spawn('unshare', ['--net', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--',
    '/bin/sh', '-c', setup, process.execPath, CLI_BIN, 'demo', ...args], {
    stdio: keep ? ['inherit', 'inherit', 'inherit', 'pipe'] : 'inherit',
    env: { ...process.env, VPCCTL_SANDBOX: '1', VPCCTL_STATE_DIR: SANDBOX_STATE_DIR, VPCCTL_DEMO_OUT: process.cwd(), ...(keep ? { VPCCTL_DEMO_PID_FD: '3' } : {}) },
  });
  if (keep) {
    // The --keep hint's nsenter commands need the pid of the sandbox's
    // first process (unshare's child: in its PID namespace too, so that
    // /proc there is its own) as the host sees it, which only this side
    // knows: handed in on fd 3.
    const pipe = child.stdio[3] as Writable;
    pipe.on('error', () => undefined); // the demo may end without reading it
    void sandboxInit(child.pid!).then((pid) => pipe.end(`${pid ?? ''}\n`));
  }
  return new Promise((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0))));
}

/** One GET on a connection of its own (no keep-alive): the built-in app's JSON, or null. */
function fetchJson(url: string): Promise<{ vpc: string; subnet: string } | null> {
  return new Promise((done) => {
    const req = get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { try { done(JSON.parse(body)); } catch { done(null); } });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(null));
  });
}

/** Run by node inside a subnet: resolves a name as any program there would (getaddrinfo: /etc/hosts), the answer to FETCH_OUT. */
const LOOKUP = "require('node:dns').lookup(process.argv[1], { family: 4 }, (e, a) => require('node:fs').writeFileSync(process.env.FETCH_OUT, e ? '' : a))";

const step = (text: string) => console.log(`\n${pc.bold(pc.cyan('==>'))} ${pc.bold(text)}`);
/** Every line under a step is indented, tables too. */
const say = (text: string) => { for (const line of text.split('\n')) console.log(`    ${line}`); };

export async function demo(opts: { keep: boolean }): Promise<number> {
  if (process.env.VPCCTL_SANDBOX !== '1') return inSandbox(opts.keep ? ['--keep'] : []);
  const v = new Vpcctl();
  const matrix = async () => say(renderMatrix(await v.connectivityMatrix(), process.stdout.isTTY === true));
  const scratch = mkdtempSync('/run/vpcctl/demo-');
  /** A program run in a subnet with its output to a file, read back here: the story, not raw child output. */
  const runQuiet = async (vpc: string, subnet: string, argv: string[]) => {
    const file = join(scratch, 'out');
    process.env.FETCH_OUT = file;
    try {
      const code = await v.exec({ vpc, subnet, command: argv });
      return { code, out: readText(file) };
    } finally {
      delete process.env.FETCH_OUT;
    }
  };
  /** Who answered: the built-in server's JSON names its VPC and subnet. */
  const who = (body: string) => { try { const j = JSON.parse(body) as { vpc?: string; subnet?: string }; return j.vpc ? `${j.vpc}/${j.subnet}` : null; } catch { return null; } };
  const probe = async (vpc: string, from: string, to: string, port?: number, toVpc?: string) => {
    const r = await v.testConnectivity({ vpc, fromSubnet: from, toSubnet: to, toVpc, port });
    const target = `${r.to.vpc}/${r.to.subnet}${port ? `:${port}` : ''}`;
    say(`${vpc}/${from} -> ${target}: ${r.reachable ? pc.green('reachable') : pc.red('blocked')}`);
    return r.reachable;
  };
  const fetchFrom = async (vpc: string, subnet: string) => {
    const { code, out } = await runQuiet(vpc, subnet, [process.execPath, APP_FETCH, `http://${SIM.serverAddress}/`]);
    const answer = who(out);
    // The built-in server answers with JSON naming where it runs: an answer, but not one to print raw.
    say(`${vpc}/${subnet} fetching http://${SIM.serverAddress}/ : ${code === 0 ? `${pc.green('ok')}${answer ? '' : ' (an unexpected answer)'}` : pc.red('no internet')}`);
  };

  step(`simulated internet: server ${SIM.serverAddress}, host uplink ${SIM.uplink} ${SIM.uplinkAddress}`);
  await buildSimInternet();

  step('two VPCs, each with a public and a private subnet');
  await v.createVpc({ name: 'prod', cidr: '10.0.0.0/16' });
  await v.createSubnet({ vpc: 'prod', name: 'web', cidr: '10.0.1.0/24', type: 'public' });
  await v.createSubnet({ vpc: 'prod', name: 'db', cidr: '10.0.2.0/24', type: 'private' });
  await v.createVpc({ name: 'dev', cidr: '10.1.0.0/16' });
  await v.createSubnet({ vpc: 'dev', name: 'web', cidr: '10.1.1.0/24', type: 'public' });
  await v.createSubnet({ vpc: 'dev', name: 'db', cidr: '10.1.2.0/24', type: 'private' });
  for (const vpc of await v.list()) say(`${vpc.name} ${vpc.cidr}: ${vpc.public} public and ${count(vpc.private, 'private subnet')}, uplink ${vpc.uplink}`);

  step('apps: the built-in HTTP server in every subnet, plus ssh-like port 22 on prod/web');
  for (const [vpc, subnet, port] of [['prod', 'web', 80], ['prod', 'web', 22], ['prod', 'db', 5432], ['dev', 'web', 80], ['dev', 'db', 5432]] as const) {
    const a = await v.deployApp({ vpc, subnet, port });
    say(`${vpc}/${subnet}:${port} pid ${a.pid} as ${a.user}`);
  }

  step('connectivity: subnets of a VPC reach each other; VPCs are isolated');
  await matrix();

  step('NAT: public subnets reach the internet, private ones never do');
  await fetchFrom('prod', 'web');
  await fetchFrom('prod', 'db');

  step('NAT gateway: a private subnet with egress nat reaches out, and nothing gets in');
  await v.createSubnet({ vpc: 'prod', name: 'worker', cidr: '10.0.3.0/24', type: 'private', egress: 'nat' });
  await fetchFrom('prod', 'worker');
  await v.deployApp({ vpc: 'prod', subnet: 'worker', port: 80 });
  const n = await native();
  // A neighbour that routes the VPC's CIDR to this host still cannot get in.
  await n.routeAdd(SIM.ns, { dst: '10.0.0.0/16', via: SIM.uplinkAddress });
  const inbound = await n.tcpConnect(SIM.ns, '10.0.3.2', 80, 500);
  say(`the internet (routing 10.0.0.0/16 to this host) -> prod/worker:80: ${inbound.ok ? pc.red('reachable') : pc.green('blocked')}`);

  step('a published port with two targets: host port 8080 -> prod/web and prod/web2, port 80');
  await v.createSubnet({ vpc: 'prod', name: 'web2', cidr: '10.0.4.0/24', type: 'public' });
  await v.deployApp({ vpc: 'prod', subnet: 'web2', port: 80 });
  const pub = await v.publish({ vpc: 'prod', targets: ['web', 'web2'], port: 80, hostPort: 8080 });
  for (let i = 1; i <= 4; i++) {
    const answer = await fetchJson(`http://${pub.value.address}:8080/`);
    say(`connection ${i} to ${pub.value.address}:8080: answered by ${answer ? `${answer.vpc}/${answer.subnet}` : pc.red('nobody')}`);
  }
  process.env.FETCH_OUT = join(scratch, 'out');
  const code = await n.runInNetns(SIM.ns, [process.execPath, APP_FETCH, `http://${pub.value.address}:8080/`]).finally(() => { delete process.env.FETCH_OUT; });
  say(`from the internet: ${code === 0 ? `${pc.green('ok')} (answered by ${who(readText(join(scratch, 'out'))) ?? '?'})` : pc.red('failed')}`);

  step('peering prod <-> dev');
  await v.peer({ vpc1: 'prod', vpc2: 'dev' });
  await matrix();

  step("names: every subnet is <subnet>.<vpc>.internal in /etc/hosts (no DNS server); peered VPCs see each other's");
  // Names that exist, looked up from a public subnet: answered by /etc/hosts, no query is sent.
  for (const name of ['db.prod.internal', 'web.dev.internal']) {
    const { out } = await runQuiet('prod', 'web', [process.execPath, '-e', LOOKUP, name]);
    say(`from prod/web: ${name} -> ${out || pc.red('not found')}`);
  }

  step("the seed's policy on prod/web: port 80 allowed, 22 denied");
  await v.applyPolicy({ vpc: 'prod', subnet: 'web', policy: {
    subnet: '10.0.1.0/24',
    ingress: [{ port: 80, protocol: 'tcp', action: 'allow' }, { port: 22, protocol: 'tcp', action: 'deny' }],
  } });
  await probe('prod', 'db', 'web', 80);
  await probe('prod', 'db', 'web', 22);
  await probe('dev', 'web', 'web', 80, 'prod');
  await probe('dev', 'web', 'web', 22, 'prod');
  say('ICMP is still allowed (the policy has no default deny), so the matrix is unchanged:');
  await matrix();

  step('flow logs on prod: each new connection a policy decides, ACCEPT or REJECT, and the rule that did');
  await v.setFlowLogs({ vpc: 'prod', enabled: true });
  const stop = new AbortController();
  const seen: FlowLogEntry[] = [];
  let ready = () => {};
  const subscribed = new Promise<void>((r) => { ready = r; });
  const following = v.followFlowLogs({ vpc: 'prod', subnet: 'web' }, (e) => seen.push(e), { signal: stop.signal, onReady: () => ready() });
  await Promise.race([subscribed, following]); // a follower that fails rejects here rather than waiting forever
  const t80 = await n.tcpConnect(hostNs('prod', 'db'), '10.0.1.2', 80, 500);
  const t22 = await n.tcpConnect(hostNs('prod', 'db'), '10.0.1.2', 22, 500);
  say(`prod/db -> prod/web:80 ${t80.ok ? 'connected' : 'failed'}, :22 ${t22.ok ? 'connected' : 'refused'}; prod/web's flow log:`);
  for (const end = Date.now() + 3000; Date.now() < end && !seen.some((e) => e.action === 'REJECT');) await new Promise((r) => setTimeout(r, 100));
  stop.abort();
  await following;
  for (const e of seen) say(formatEntry(e));

  step('IPv6: a dual-stack VPC on 2001:db8:8000::/56, inside the prefix the provider routes to this host: routed, no NAT66');
  await v.createVpc({ name: 'edge', cidr: '10.2.0.0/16', ipv6Cidr: '2001:db8:8000::/56' });
  await v.createSubnet({ vpc: 'edge', name: 'web', cidr: '10.2.1.0/24', type: 'public' });
  const edge = await v.show({ name: 'edge' });
  say(`edge/web: ${edge.subnetDetails[0]!.cidr} and ${edge.subnetDetails[0]!.ipv6Cidr} (host ${edge.subnetDetails[0]!.ipv6Host})`);
  // An IPv6 server of the simulated internet that says which client address it saw.
  await n.spawnDetached(SIM.ns, [process.execPath, APP_SERVER, '8080'], {
    logFile: join(scratch, 'server6.log'), env: { VPCCTL_APP_VPC: 'internet', VPCCTL_APP_SUBNET: 'web', VPCCTL_APP_ADDRESS: SIM.serverAddress6 },
  });
  // A gateway link made a moment ago carries nothing until the kernel has seen its carrier (up to ~2 s).
  let seen6 = { code: 1, out: '' };
  for (let i = 0; i < 10 && seen6.code !== 0; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 300));
    seen6 = await runQuiet('edge', 'web', [process.execPath, APP_FETCH, `http://[${SIM.serverAddress6}]:8080/`]);
  }
  const client = (() => { try { return (JSON.parse(seen6.out) as { client?: string }).client; } catch { return undefined; } })();
  say(`edge/web fetching http://[${SIM.serverAddress6}]:8080/ : ${seen6.code === 0 ? `${pc.green('ok')}, the server saw ${client ?? '?'} (the subnet's own address)` : pc.red('no internet')}`);

  const out = process.env.VPCCTL_DEMO_OUT ?? process.cwd();
  mkdirSync(out, { recursive: true });
  const svg = join(out, 'vpcctl-demo.svg');
  writeFileSync(svg, await v.graph({ format: 'svg' }));
  step(`topology drawn to ${svg}`);

  if (opts.keep) {
    step('the topology stays up: look at it from another shell, inside the sandbox (its namespaces, its /run and state dir):');
    const pid = outerPid();
    const enter = pid ? `sudo nsenter -t ${pid} -n -m -p -- ` : '';
    say([
      `${enter}${CLI_BIN} --state-dir ${SANDBOX_STATE_DIR} list-vpcs`,
      `${enter}${CLI_BIN} --state-dir ${SANDBOX_STATE_DIR} test-connectivity --all`,
      `${enter}ip netns list`,
      `${enter}ip -n ${routerNs('prod')} route`,
      `${enter}ip netns exec ${hostNs('prod', 'web')} ss -ltn`,
    ].join('\n'));
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    await rl.question('    press Enter to tear everything down ');
    rl.close();
  }

  step('teardown');
  const r = await v.cleanupAll();
  say(`removed ${count(r.namespaces.length, 'namespace')}; the sandbox goes with this process, leaving nothing on the host`);
  return 0;
}
