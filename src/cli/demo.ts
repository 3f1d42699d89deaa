import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
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
import { APP_FETCH, CLI_BIN } from '../paths.js';


/**
 * Re-run this command in a throwaway sandbox (new network, mount and PID
 * namespaces, a tmpfs on /run, /etc copy-on-write onto it so the subnets'
 * names under /etc/netns never reach the machine's /etc): everything the
 * demo builds dies with it. `unshare` only makes the sandbox; vpcctl itself
 * spawns nothing for the kernel.
 */
function inSandbox(args: string[]): Promise<number> {
  const setup = 'mount -t tmpfs -o mode=755 vpcctl-demo /run && mkdir -p /run/netns /run/vpcctl/state /run/.demo-etc/upper /run/.demo-etc/work'
    + ' && mount -t overlay vpcctl-demo-etc -o lowerdir=/etc,upperdir=/run/.demo-etc/upper,workdir=/run/.demo-etc/work /etc && exec "$0" "$@"';
  const child = spawn('unshare', ['--net', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--',
    '/bin/sh', '-c', setup, process.execPath, CLI_BIN, 'demo', ...args], {
    stdio: 'inherit',
    env: { ...process.env, VPCCTL_SANDBOX: '1', VPCCTL_STATE_DIR: '/run/vpcctl/state', VPCCTL_DEMO_OUT: process.cwd() },
  });
  // unshare itself holds the sandbox's network and mount namespaces; only
  // this side knows its pid as the host sees it.
  if (args.includes('--keep')) console.log(pc.dim(`(to look inside the sandbox from another shell: sudo nsenter -t ${child.pid} -n -m)`));
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

const step = (text: string) => console.log(`\n${pc.bold(pc.cyan('==>'))} ${pc.bold(text)}`);
const say = (text: string) => console.log(`    ${text}`);

export async function demo(opts: { keep: boolean }): Promise<number> {
  if (process.env.VPCCTL_SANDBOX !== '1') return inSandbox(opts.keep ? ['--keep'] : []);
  const v = new Vpcctl();
  const matrix = async () => console.log(renderMatrix(await v.connectivityMatrix(), process.stdout.isTTY === true));
  const probe = async (vpc: string, from: string, to: string, port?: number, toVpc?: string) => {
    const r = await v.testConnectivity({ vpc, fromSubnet: from, toSubnet: to, toVpc, port });
    const target = `${r.to.vpc}/${r.to.subnet}${port ? `:${port}` : ''}`;
    say(`${vpc}/${from} -> ${target}: ${r.reachable ? pc.green('reachable') : pc.red('blocked')}`);
    return r.reachable;
  };
  const fetchFrom = async (vpc: string, subnet: string) => {
    const code = await v.exec({ vpc, subnet }, [process.execPath, APP_FETCH, `http://${SIM.serverAddress}/`]);
    say(`${vpc}/${subnet} fetching http://${SIM.serverAddress}/ : ${code === 0 ? pc.green('ok') : pc.red('no internet')}`);
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
  for (const vpc of await v.list()) say(`${vpc.name} ${vpc.cidr}: ${vpc.public} public, ${vpc.private} private subnet(s), uplink ${vpc.uplink}`);

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
  const code = await n.runInNetns(SIM.ns, [process.execPath, APP_FETCH, `http://${pub.value.address}:8080/`]);
  say(`from the internet: ${code === 0 ? pc.green('ok') : pc.red('failed')}`);

  step('peering prod <-> dev');
  await v.peer('prod', 'dev');
  await matrix();

  step("names: every subnet is <subnet>.<vpc>.internal in /etc/hosts (no DNS server); peered VPCs see each other's");
  // Names that exist, looked up from a public subnet: answered by /etc/hosts, no query is sent.
  for (const name of ['db.prod.internal', 'web.dev.internal']) await v.exec({ vpc: 'prod', subnet: 'web' }, ['getent', 'hosts', name]);

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

  const out = process.env.VPCCTL_DEMO_OUT ?? process.cwd();
  mkdirSync(out, { recursive: true });
  const svg = join(out, 'vpcctl-demo.svg');
  writeFileSync(svg, await v.graph('svg'));
  step(`topology drawn to ${svg}`);

  if (opts.keep) {
    step('the topology stays up: inspect it from another shell (nsenter line at the top), e.g.');
    say(`ip netns list; ip -n ${routerNs('prod')} route; ip netns exec ${hostNs('prod', 'web')} ss -ltn`);
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    await rl.question('    press Enter to tear everything down ');
    rl.close();
  }

  step('teardown');
  const r = await v.cleanupAll();
  say(`removed ${r.namespaces.length} namespaces; the sandbox goes with this process, leaving nothing on the host`);
  return 0;
}
