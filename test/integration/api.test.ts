import test from 'ava';
import { Vpcctl, VpcctlError, type ErrorCode } from '../../src/index.js';
import * as native from '../../index.js';
import { native as library } from '../../src/native.js';
import { freshStateDir, netnsList } from '../helpers/sandbox.js';

const v = new Vpcctl({ stateDir: freshStateDir() });

const code = async (p: Promise<unknown>): Promise<ErrorCode | 'OK'> => {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (e instanceof VpcctlError) return e.code;
    throw e;
  }
};

test.serial('the main paths, driven through the library', async (t) => {
  const r = await v.createVpc({ name: 'lib', cidr: '10.40.0.0/16' });
  t.true(r.changed);
  t.false((await v.createVpc({ name: 'lib', cidr: '10.40.0.0/16' })).changed, 'idempotent');
  await v.createSubnet({ vpc: 'lib', name: 'web', cidr: '10.40.1.0/24', type: 'public' });
  await v.createSubnet({ vpc: 'lib', name: 'db', cidr: '10.40.2.0/24', type: 'private' });
  await v.createVpc({ name: 'other', cidr: '10.41.0.0/16' });
  await v.createSubnet({ vpc: 'other', name: 'app', cidr: '10.41.1.0/24', type: 'private' });
  t.false((await v.testConnectivity({ vpc: 'lib', fromSubnet: 'web', toSubnet: 'app', toVpc: 'other' })).reachable);
  await v.peer({ vpc1: 'lib', vpc2: 'other' });
  const app = await v.deployApp({ vpc: 'other', subnet: 'app', port: 8080 });
  t.true(app.running);
  const c = await v.testConnectivity({ vpc: 'lib', fromSubnet: 'db', toSubnet: 'app', toVpc: 'other', port: 8080 });
  t.true(c.reachable);
  t.is(typeof c.icmp.rttMs, 'number');
  await v.applyPolicy({ vpc: 'other', subnet: 'app', policy: { subnet: '10.41.1.0/24', ingress: [{ port: 8080, action: 'deny' }] } });
  t.false((await v.testConnectivity({ vpc: 'lib', fromSubnet: 'db', toSubnet: 'app', toVpc: 'other', port: 8080 })).reachable);
  const list = await v.list();
  t.deepEqual(list.map((x) => [x.name, x.subnets, x.peers]), [['lib', 2, ['other']], ['other', 1, ['lib']]]);
  const show = await v.show({ name: 'lib' });
  t.is(show.subnetDetails[0]!.namespace, 'ns-lib-web');
  t.true((await v.status()).ok);
  t.deepEqual((await v.stopApp({ vpc: 'other', subnet: 'app' })).map((a) => a.port), [8080]);
  await v.unpeer({ vpc1: 'lib', vpc2: 'other' });
  await v.deleteSubnet({ vpc: 'lib', subnet: 'db' });
  await v.deleteVpc({ name: 'other' });
  t.deepEqual((await v.list()).map((x) => x.name), ['lib']);
});

test.serial('exec runs a command in a subnet\'s host namespace and returns its exit code', async (t) => {
  const onEth0 = (address: string) => [process.execPath, '-e', `process.exit(require('os').networkInterfaces().eth0?.[0]?.address === '${address}' ? 0 : 3)`];
  t.is(await v.exec({ vpc: 'lib', subnet: 'web', command: onEth0('10.40.1.2') }), 0);
  t.is(await v.exec({ vpc: 'lib', subnet: 'web', command: onEth0('10.40.9.9') }), 3);
  t.is(await code(v.exec({ vpc: 'lib', subnet: 'nope', command: ['true'] })), 'NOT_FOUND');
});

test.serial('apply(topology) returns the plan and what was done; dry runs change nothing', async (t) => {
  const topo = {
    vpcs: [{ name: 'topo', cidr: '10.50.0.0/16', subnets: [
      { name: 'a', cidr: '10.50.1.0/24', type: 'public', apps: [{ port: 80 }] },
      { name: 'b', cidr: '10.50.2.0/24', type: 'private', policy: { ingress: [{ port: 22, action: 'deny' }] } },
    ] }],
  };
  const progress: number[] = [];
  const dry = await v.apply(topo, { dryRun: true });
  t.true(dry.dryRun);
  t.false(netnsList().includes('vpcr-topo'));
  const r = await v.apply(topo, { onProgress: (done) => progress.push(done) });
  t.true(r.changed);
  t.true(r.plan.ops.length > 10);
  t.is(r.appsStarted.length, 1);
  t.true(progress.length > 0 && progress.at(-1) === r.plan.ops.length);
  const again = await v.apply(topo);
  t.false(again.changed);
  t.is(again.plan.ops.length, 0);
  t.true(netnsList().includes('ns-topo-a'));
});

test.serial('errors are typed with stable codes and the CLI\'s messages', async (t) => {
  t.is(await code(v.createVpc({ name: 'x', cidr: '10.0.0.0/99' })), 'INVALID_CIDR');
  t.is(await code(v.createVpc({ name: 'Bad', cidr: '10.0.0.0/16' })), 'INVALID_NAME');
  t.is(await code(v.createSubnet({ vpc: 'nope', name: 'a', cidr: '10.0.1.0/24', type: 'public' })), 'NOT_FOUND');
  t.is(await code(v.createSubnet({ vpc: 'lib', name: 'x', cidr: '10.40.1.128/25', type: 'public' })), 'OVERLAP');
  t.is(await code(v.createVpc({ name: 'lib', cidr: '10.9.0.0/16' })), 'CONFLICT');
  t.is(await code(v.applyPolicy({ vpc: 'lib', subnet: 'web', policy: { subnet: '10.40.1.0/24', ingress: [{ port: 0, action: 'allow' }] } })), 'INVALID_POLICY');
  t.is(await code(v.apply({ vpcs: [{ name: 'q', cidr: '10.20.2.0/99' }] })), 'INVALID_INPUT');
  const e = await v.apply({ vpcs: [{ name: 'q', cidr: '10.20.0.0/16', subnets: [{ name: 's', cidr: '10.20.2.0/99', type: 'public' }] }] }).catch((x) => x);
  t.is(e.message, 'vpcs[0].subnets[0].cidr: 10.20.2.0/99 is not a CIDR');
  process.env.VPCCTL_FAULT_AT = '2';
  try {
    t.is(await code(v.createSubnet({ vpc: 'lib', name: 'f', cidr: '10.40.9.0/24', type: 'public' })), 'KERNEL');
  } finally {
    delete process.env.VPCCTL_FAULT_AT;
  }
  t.false(netnsList().includes('ns-lib-f'));
});

test.serial('the native module is usable on its own', async (t) => {
  await native.netnsAdd('plain', 'mine');
  t.true(await native.netnsExists('plain'));
  t.is(await native.netnsTag('plain'), 'mine');
  await native.vethAdd({ ns: 'plain', name: 'p0', peerNs: 'plain', peerName: 'p1' });
  await native.addrAdd('plain', 'p0', '192.0.2.1/24');
  t.deepEqual((await native.addrList('plain')).filter((a) => a.dev === 'p0').map((a) => a.cidr), ['192.0.2.1/24']);
  await native.netnsDel('plain');
  t.false(await native.netnsExists('plain'));
  await v.cleanupAll();
  t.deepEqual(netnsList(), []);
});

test.serial("native failures carry netkit's stable code: in the raw module's message, as `native` on a VpcctlError", async (t) => {
  await native.netnsAdd('coded', 'mine');
  try {
    const raw = await t.throwsAsync(native.netnsAdd('coded', 'mine'));
    t.regex(raw!.message, /^\[EXISTS\] netns "coded": File exists/);
    const n = await library();
    const taken = await t.throwsAsync(n.netnsAdd('coded', 'mine'));
    t.true(taken instanceof VpcctlError);
    t.like(taken, { code: 'KERNEL', native: 'EXISTS' });
    t.regex(taken!.message, /^netns "coded": /, 'the code is taken off the message');
    t.like(await t.throwsAsync(n.addrAdd('coded', 'nope0', '192.0.2.1/24')), { native: 'NOT_FOUND' });
    t.like(await t.throwsAsync(n.execute('[{"op":"netnsAdd","ns":"x"}]')), { native: 'INVALID' });
    t.like(await t.throwsAsync(n.sysctlSet('coded', '../x', '1')), { native: 'INVALID' });
  } finally {
    await native.netnsDel('coded');
  }
});

test.serial('apply takes the state lock once: for the change, the apps it starts and its bookkeeping', async (t) => {
  const w = new Vpcctl({ stateDir: freshStateDir() });
  let sessions = 0;
  const locked = w.store.locked.bind(w.store);
  w.store.locked = (fn) => { sessions++; return locked(fn); };
  const topo = {
    vpcs: [{ name: 'onelock', cidr: '10.60.0.0/16', subnets: [
      { name: 'a', cidr: '10.60.1.0/24', type: 'private', apps: [{ port: 8080 }, { port: 8081 }] },
    ] }],
  };
  const r = await w.apply(topo);
  t.is(r.appsStarted.length, 2);
  t.is(sessions, 1, 'one lock session, not one for the change, one per app and one for the bookkeeping');
  t.deepEqual((await w.listApps({ vpc: 'onelock' })).map((a) => [a.port, a.running]), [[8080, true], [8081, true]]);
  const again = await w.apply(topo);
  t.false(again.changed, 'the document was remembered after the apps were recorded');
  await w.cleanupAll();
  t.deepEqual(netnsList(), []);
});
