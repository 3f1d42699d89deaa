import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkUnderlay, detectUnderlay, parseEndpoints, readClusterConfig, validateHostName } from '../../src/cluster/config.js';
import { errorOf } from '../helpers/error-of.js';

const iface = (address: string, cidr: string, internal = false) => ({ address, cidr, internal, family: 'IPv4' as const, netmask: '', mac: '' });

test('underlay: the address on the etcd members\' network, else the only one, else ask', (t) => {
  const ifaces = { lo: [iface('127.0.0.1', '127.0.0.1/8', true)], eth0: [iface('10.1.2.3', '10.1.2.3/16')], under: [iface('192.0.2.12', '192.0.2.12/24')] };
  t.is(detectUnderlay(['http://192.0.2.11:2379'], ifaces), '192.0.2.12');
  t.is(detectUnderlay(['http://10.1.200.1:2379'], ifaces), '10.1.2.3');
  t.is(errorOf(() => detectUnderlay(['http://198.51.100.1:2379'], ifaces)).code, 'INVALID_INPUT');
  t.is(detectUnderlay(['http://etcd.example:2379'], { lo: ifaces.lo, eth0: ifaces.eth0 }), '10.1.2.3');
});

test('endpoints, host names and underlay addresses are checked', (t) => {
  t.deepEqual(parseEndpoints('http://192.0.2.1:2379, http://192.0.2.2:2379'), ['http://192.0.2.1:2379', 'http://192.0.2.2:2379']);
  for (const bad of ['', 'nope', 'ftp://x:1', 'http://x']) t.is(errorOf(() => parseEndpoints(bad)).code, 'INVALID_INPUT', bad);
  t.is(errorOf(() => validateHostName('Bad_Name')).code, 'INVALID_NAME');
  t.is(errorOf(() => checkUnderlay('300.1.1.1')).code, 'INVALID_INPUT');
  t.is(checkUnderlay('192.0.2.7'), '192.0.2.7');
});

test("etcd's size limits read as what to change, outages as unavailable", async (t) => {
  const { unavailable } = await import('../../src/cluster/etcd.js');
  const big = unavailable({ code: 3, details: 'etcdserver: too many operations in txn request' });
  t.is(big.code, 'ETCD');
  t.regex(big.message, /^etcd refused the write as too large \(etcdserver: too many operations in txn request\): start its members with a higher --max-txn-ops/);
  t.regex(unavailable({ details: 'Deadline exceeded' }).message, /^etcd unavailable: no answer within \d+ ms/);
});

test('a cluster file that is not a regular file is refused at once (a FIFO would block every command)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpcctl-cluster-'));
  const fifo = join(dir, 'cluster.json');
  execFileSync('mkfifo', [fifo]);
  const e = errorOf(() => readClusterConfig(fifo));
  t.is(e.code, 'INVALID_INPUT');
  t.is(e.message, `cluster config ${fifo}: a FIFO, not a regular file`);
  t.regex(errorOf(() => readClusterConfig(dir)).message, /: a directory, not a regular file$/);
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ etcd: ['http://192.0.2.1:2379'], host: 'a', underlay: '192.0.2.7' }));
  t.like(readClusterConfig(good), { host: 'a', underlay: '192.0.2.7' });
});
