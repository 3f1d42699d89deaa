import test from 'ava';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { FETCH, freshStateDir, inNs, ip, nft, vpcctl } from '../helpers/sandbox.js';
import { SIM, buildSimInternet } from '../../src/sim/internet.js';

/**
 * Issue 16 §2: published ports and a load balancer. A connection to the
 * host's uplink address on the host port reaches the app in the subnet, from
 * the simulated internet and from the host itself, for public and private
 * subnets; several targets share new connections, each sticky for its
 * life; the subnet's policy still decides; what a publish would take from
 * the host (a port in use, an address not its own) is refused.
 */
const state = freshStateDir();
const run = (...args: string[]) => vpcctl(state, args);
const HOST = SIM.uplinkAddress;
const stateText = () => readFileSync(join(state, 'state.json'), 'utf8');
const ruleset = () => nft(['-s', 'list', 'ruleset']);
const foreign = () => nft(['-s', 'list', 'table', 'inet', 'foreign']);

/** GET from the simulated internet (a neighbour beyond the uplink): the app's JSON, or null. */
function fromInternet(port: number): { subnet: string; client: string } | null {
  const r = inNs(SIM.ns, [process.execPath, FETCH, `http://${HOST}:${port}/`], 8000);
  return r.status === 0 ? JSON.parse(r.stdout) : null;
}
/** GET from the host itself (a new process, so a new connection). */
function fromHost(port: number): { subnet: string; client: string } | null {
  const r = spawnSync(process.execPath, [FETCH, `http://${HOST}:${port}/`], { encoding: 'utf8', timeout: 8000 });
  return r.status === 0 ? JSON.parse(r.stdout) : null;
}

/** An app that answers each line on a long-lived TCP connection with its subnet's name. */
const ECHO = `${process.execPath} -e "require('net').createServer((s)=>s.on('data',(d)=>s.write(process.env.VPCCTL_APP_SUBNET+':'+d))).listen(Number(process.env.VPCCTL_APP_PORT))"`;
/** A UDP app that answers with its subnet's name (and listens on TCP too, so deploy-app sees it ready). */
const UDP_ECHO = `${process.execPath} -e "const p=Number(process.env.VPCCTL_APP_PORT);const u=require('dgram').createSocket('udp4');u.on('message',(m,r)=>u.send(process.env.VPCCTL_APP_SUBNET+':'+m,r.port,r.address));u.bind(p);require('net').createServer((s)=>s.end()).listen(p)"`;

/** One TCP connection kept open: each ask() sends a line and reads the answer on the same connection. */
async function conversation(port: number): Promise<{ ask(): Promise<string>; close(): void }> {
  const sock: Socket = connect(port, HOST);
  await new Promise<void>((ok, fail) => { sock.once('connect', ok); sock.once('error', fail); });
  sock.setEncoding('utf8');
  return {
    ask: () => new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('no answer on the established connection')), 3000);
      sock.once('data', (d: string) => { clearTimeout(timer); ok(d.split(':')[0]!); });
      sock.write('hi\n');
    }),
    close: () => sock.destroy(),
  };
}

let hostTcp: Server;
let hostUdp: UdpSocket;

test.before(async () => {
  await buildSimInternet();
  nft(['add', 'table', 'inet', 'foreign']);
  nft(['add', 'chain', 'inet', 'foreign', 'pre', '{ type nat hook prerouting priority 50; policy accept; }']);
  nft(['add', 'rule', 'inet', 'foreign', 'pre', 'tcp', 'dport', '7777', 'counter', 'accept']);
  // Ports the host itself uses: a publish must not take them.
  hostTcp = createServer((s) => s.end()).listen(9999, '0.0.0.0');
  hostUdp = createSocket('udp4');
  await new Promise<void>((ok) => hostUdp.bind(5454, ok));
  const steps: string[][] = [
    ['create-vpc', '--name', 'prod', '--cidr', '10.0.0.0/16'],
    ['create-subnet', '--vpc', 'prod', '--name', 'web1', '--cidr', '10.0.1.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'prod', '--name', 'web2', '--cidr', '10.0.2.0/24', '--type', 'public'],
    ['create-subnet', '--vpc', 'prod', '--name', 'db', '--cidr', '10.0.3.0/24', '--type', 'private'],
    ['create-subnet', '--vpc', 'prod', '--name', 'worker', '--cidr', '10.0.4.0/24', '--type', 'private', '--egress', 'nat'],
    ['create-vpc', '--name', 'other', '--cidr', '10.1.0.0/16'],
    ['create-subnet', '--vpc', 'other', '--name', 'web', '--cidr', '10.1.1.0/24', '--type', 'public'],
    ['deploy-app', '--vpc', 'prod', '--subnet', 'web1', '--port', '80'],
    ['deploy-app', '--vpc', 'prod', '--subnet', 'web2', '--port', '80'],
    ['deploy-app', '--vpc', 'prod', '--subnet', 'db', '--port', '80'],
    ['deploy-app', '--vpc', 'prod', '--subnet', 'worker', '--port', '80'],
    ['deploy-app', '--vpc', 'prod', '--subnet', 'web1', '--port', '9000', '--command', ECHO],
    ['deploy-app', '--vpc', 'prod', '--subnet', 'web2', '--port', '9000', '--command', ECHO],
    ['deploy-app', '--vpc', 'prod', '--subnet', 'db', '--port', '5353', '--command', UDP_ECHO],
  ];
  for (const s of steps) {
    const r = await run(...s);
    if (r.code !== 0) throw new Error(`${s.join(' ')}: ${r.stderr}`);
  }
});

test.after.always(() => { hostTcp?.close(); hostUdp?.close(); });

test.serial('an unpublished port is closed; publish opens it at the uplink address, from the internet and from the host', async (t) => {
  t.is(fromInternet(8080), null, 'nothing published yet');
  t.is(fromHost(8080), null);
  const r = await run('publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '8080');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /publish 203\.0\.113\.1:8080\/tcp -> prod\/web1 port 80/);
  const a = fromInternet(8080);
  t.is(a?.subnet, 'web1');
  t.is(a?.client, SIM.upstreamAddress, "the app sees the client's own address");
  t.is(fromHost(8080)?.subnet, 'web1', 'from the host itself (output DNAT)');
  t.is(fromInternet(8099), null, 'a port never published stays closed');
});

test.serial('private subnets alike: without NAT (the router answers for the client) and with NAT', async (t) => {
  const hostRoutes = ip(['route']);
  t.is((await run('publish', '--vpc', 'prod', '--subnet', 'db', '--port', '80', '--host-port', '8082')).code, 0);
  t.is(ip(['route']), hostRoutes, 'no host route into a private subnet: the router DNATs');
  t.is((await run('publish', '--vpc', 'prod', '--subnet', 'worker', '--port', '80', '--host-port', '8083')).code, 0);
  const db = fromInternet(8082);
  t.is(db?.subnet, 'db');
  t.is(db?.client, '10.0.3.1', 'a subnet without a route out sees its gateway');
  t.is(fromHost(8082)?.subnet, 'db');
  const worker = fromInternet(8083);
  t.is(worker?.subnet, 'worker');
  t.is(worker?.client, SIM.upstreamAddress);
  t.is(fromHost(8083)?.subnet, 'worker');
  // Publishing does not open the rest of the subnet.
  t.false(inNs(SIM.ns, [process.execPath, FETCH, 'http://10.0.3.2/'], 8000).status === 0);
});

test.serial('udp: a published UDP port reaches the app; a UDP port the host holds is refused', async (t) => {
  const r = await run('publish', '--vpc', 'prod', '--subnet', 'db', '--port', '5353', '--host-port', '5353', '--protocol', 'udp');
  t.is(r.code, 0, r.stderr);
  const script = `const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{console.log(String(m));process.exit(0)});s.send('ping',5353,'${HOST}');setTimeout(()=>process.exit(1),3000)`;
  const u = inNs(SIM.ns, [process.execPath, '-e', script], 8000);
  t.is(u.status, 0, u.stderr);
  t.is(u.stdout.trim(), 'db:ping');
  const held = await run('publish', '--vpc', 'prod', '--subnet', 'db', '--port', '5353', '--host-port', '5454', '--protocol', 'udp');
  t.is(held.code, 2);
  t.regex(held.stderr, new RegExp(`host port 203\\.0\\.113\\.1:5454/udp is already in use on the host \\(pid ${process.pid}`));
});

test.serial('--targets spreads new connections; each stays on its target; removing one leaves the others\' connections alone', async (t) => {
  const r = await run('publish', '--vpc', 'prod', '--targets', 'web1,web2', '--port', '9000', '--host-port', '9000');
  t.is(r.code, 0, r.stderr);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const c = await conversation(9000);
    seen.add(await c.ask());
    c.close();
  }
  t.deepEqual([...seen].sort(), ['web1', 'web2'], 'round robin over both targets');
  const a = await conversation(9000);
  const b = await conversation(9000);
  const [ta, tb] = [await a.ask(), await b.ask()];
  t.deepEqual([ta, tb].sort(), ['web1', 'web2']);
  for (let i = 0; i < 3; i++) t.deepEqual([await a.ask(), await b.ask()], [ta, tb], 'sticky for the connection');
  t.regex((await run('show-vpc', '--name', 'prod')).stdout, /published: 203\.0\.113\.1:9000\/tcp -> web1, web2 port 9000/);
  t.regex((await run('list-published')).stdout, /203\.0\.113\.1[\s│]+9000[\s│]+tcp[\s│]+prod[\s│]+web1 \(10\.0\.1\.2\), web2 \(10\.0\.2\.2\)/);
  const list = JSON.parse((await run('list-published', '--vpc', 'prod', '--json')).stdout);
  t.deepEqual(list.find((p: { hostPort: number }) => p.hostPort === 9000).targets.map((x: { subnet: string }) => x.subnet), ['web1', 'web2']);
  // Take web2 out: the connection to web1 goes on, new ones all go to web1.
  const [toWeb1] = ta === 'web1' ? [a] : [b];
  const u = await run('unpublish', '--vpc', 'prod', '--host-port', '9000', '--targets', 'web2');
  t.is(u.code, 0, u.stderr);
  t.is(await toWeb1!.ask(), 'web1', 'the established connection to the remaining target is untouched');
  for (let i = 0; i < 3; i++) {
    const c = await conversation(9000);
    t.is(await c.ask(), 'web1');
    c.close();
  }
  a.close();
  b.close();
});

test.serial('policies still apply at the target: a denied port stays closed, and publish warns', async (t) => {
  const policy = join(state, 'deny80.json');
  writeFileSync(policy, JSON.stringify({ subnet: '10.0.2.0/24', ingress: [{ port: 80, action: 'deny' }] }));
  t.is((await run('apply-policy', '--vpc', 'prod', '--subnet', 'web2', '--policy', policy)).code, 0);
  const r = await run('publish', '--vpc', 'prod', '--subnet', 'web2', '--port', '80', '--host-port', '8081');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /warning: the policy of subnet "web2" denies tcp port 80: 203\.0\.113\.1:8081\/tcp stays closed/);
  t.is(fromInternet(8081), null, 'denied by the policy');
  t.is(fromHost(8081), null);
  t.is((await run('remove-policy', '--vpc', 'prod', '--subnet', 'web2')).code, 0);
  t.is(fromInternet(8081)?.subnet, 'web2', 'open once the policy allows it');
  // And apply-policy warns about a published port it closes.
  const again = await run('apply-policy', '--vpc', 'prod', '--subnet', 'web2', '--policy', policy);
  t.regex(again.stderr, /denies tcp port 80: 203\.0\.113\.1:8081\/tcp stays closed/);
  t.is((await run('remove-policy', '--vpc', 'prod', '--subnet', 'web2')).code, 0);
});

test.serial('refused, exit 2, state and kernel as before: a host port in use, one another publish holds, an address not the host\'s', async (t) => {
  const before = [stateText(), ruleset()];
  const cases: Array<[string[], RegExp]> = [
    [['publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '9999'], /host port 203\.0\.113\.1:9999\/tcp is already in use on the host \(pid \d+/],
    [['publish', '--vpc', 'other', '--subnet', 'web', '--port', '80', '--host-port', '8080'], /host port 203\.0\.113\.1:8080\/tcp is published by vpc "prod"/],
    [['publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '8090', '--address', '198.51.100.10'], /is not an address of this host/],
    [['publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '8090', '--address', '127.0.0.1'], /is not an address of this host/],
    [['publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '8090', '--address', '100.64.0.1'], /is not an address of this host/],
    [['publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '8090', '--address', 'nope'], /not an IPv4 address/],
    [['publish', '--vpc', 'prod', '--subnet', 'nope', '--port', '80', '--host-port', '8090'], /subnet "nope"/],
    [['publish', '--vpc', 'prod', '--port', '80', '--host-port', '8090'], /name the subnet/],
    [['publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '0'], /port 0 is invalid/],
    [['publish', '--vpc', 'prod', '--subnet', 'web1', '--port', '80', '--host-port', '8090', '--protocol', 'sctp'], /sctp/],
    [['unpublish', '--vpc', 'prod', '--host-port', '8099'], /publishes no tcp host port 8099/],
  ];
  for (const [args, message] of cases) {
    const r = await run(...args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
  t.deepEqual([stateText(), ruleset()], before);
});

test.serial('topology: publish on subnets, the same host port on two subnets is one load balancer; re-apply changes nothing', async (t) => {
  const file = join(state, 'topo.json');
  const subnet = (name: string, cidr: string, publish: unknown[]) => ({ name, cidr, type: 'public', publish, apps: [{ port: 80 }] });
  const topo = (publish: unknown[]) => ({
    vpcs: [{ name: 'file', cidr: '10.8.0.0/16', subnets: [subnet('a', '10.8.1.0/24', publish), subnet('b', '10.8.2.0/24', [{ port: 80, hostPort: 9090 }])] }],
  });
  writeFileSync(file, JSON.stringify(topo([{ port: 81, hostPort: 9090 }])));
  const bad = await run('apply', '-f', file);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /publishes tcp host port 9090 twice/);
  writeFileSync(file, JSON.stringify(topo([{ port: 80, hostPort: 9090 }])));
  const r = await run('apply', '-f', file);
  t.is(r.code, 0, r.stderr);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add(fromInternet(9090)?.subnet ?? 'none');
  t.deepEqual([...seen].sort(), ['a', 'b']);
  t.is((await run('apply', '-f', file)).stdout.trim(), '0 changes');
  t.is((await run('status')).code, 0);
});

test.serial('unpublish closes it; delete-vpc and cleanup-all remove every publish; a foreign table is never touched', async (t) => {
  const foreignBefore = foreign();
  t.is((await run('unpublish', '--vpc', 'prod', '--host-port', '8080')).code, 0);
  t.is(fromInternet(8080), null);
  t.is(fromHost(8080), null);
  t.is((await run('delete-vpc', '--name', 'file')).code, 0);
  t.is(fromInternet(9090), null);
  t.is((await run('cleanup-all')).code, 0);
  t.is(fromInternet(8082), null);
  t.notRegex(ruleset(), /table inet vpcctl/);
  t.is(foreign(), foreignBefore);
});
