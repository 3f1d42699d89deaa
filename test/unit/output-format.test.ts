import test from 'ava';
import YAML from 'yaml';
import { Command } from 'commander';
import { count, roundForOutput, table, toJson } from '../../src/cli/output.js';
import { formatOf, listTable, toYaml, withOutput } from '../../src/cli/format.js';
import { views } from '../../src/cli/views.js';
import { compare, renderSummary } from '../../src/cli/matrix.js';
import { lastLines } from '../../src/cli/logs.js';
import { markRequired, nonNegativeInt, prefixed, unknownCommandFirst } from '../../src/cli/args.js';
import type { MatrixResult } from '../../src/api/connectivity.js';

test('numbers in JSON are rounded to what they mean; integers are left alone', (t) => {
  t.is(roundForOutput('rttMs', 0.13876500000000002), 0.14);
  t.is(roundForOutput('elapsedMs', 1234.5678), 1234.57);
  t.is(roundForOutput('ratio', 0.123456), 0.123);
  t.is(roundForOutput('packets', 12345678901), 12345678901);
  t.is(toJson({ icmp: { ok: true, rttMs: 0.0712345 } }), '{\n  "icmp": {\n    "ok": true,\n    "rttMs": 0.07\n  }\n}');
});

test('-o yaml parses back to the same data as -o json', (t) => {
  const data = { vpcs: [{ name: 'a', cidr: '10.0.0.0/16', peers: [], uplink: null, rttMs: 1.23456 }], skipped: undefined };
  t.deepEqual(YAML.parse(toYaml(data)), JSON.parse(toJson(data)));
  t.deepEqual(YAML.parse(toYaml([])), []);
});

test('counts read right', (t) => {
  t.is(count(0, 'change'), '0 changes');
  t.is(count(1, 'change'), '1 change');
  t.is(count(2, 'change'), '2 changes');
  t.is(count(1, 'policy', 'policies'), '1 policy');
  t.is(count(3, 'policy', 'policies'), '3 policies');
});

test('tables: no border lines, columns aligned, no trailing blanks; --no-headers drops the header', (t) => {
  const text = table(['VPC', 'CIDR'], [['prod', '10.0.0.0/16'], ['a', '10.1.0.0/16']]);
  t.deepEqual(text.split('\n'), ['VPC    CIDR', 'prod   10.0.0.0/16', 'a      10.1.0.0/16']);
  t.notRegex(text, /[─│┌┼]/);
  t.deepEqual(table(['VPC'], [['prod']], { headers: false }).split('\n'), ['prod']);
});

test('-o wide adds the wide columns; --json is -o json', (t) => {
  const peering = [{ vpc1: 'a', vpc2: 'b', link: '100.64.0.0/30' }];
  t.notRegex(listTable({ output: 'table' }, peering, views.peerings), /LINK/);
  t.regex(listTable({ output: 'wide' }, peering, views.peerings), /LINK\n.*100\.64\.0\.0\/30/);
  t.is(formatOf({ json: true, output: 'table' }), 'json');
  t.is(formatOf({}), 'table');
  const cmd = withOutput(new Command('x').exitOverride(), { list: true }).action(() => undefined);
  cmd.parse(['-o', 'yaml', '--no-headers', '-q'], { from: 'user' });
  t.deepEqual(cmd.opts(), { output: 'yaml', headers: false, quiet: true });
  t.throws(() => withOutput(new Command('y').exitOverride().configureOutput({ writeErr: () => undefined })).parse(['-o', 'xml'], { from: 'user' }));
});

const matrix: MatrixResult = {
  subnets: ['a/web', 'a/db', 'b/web'],
  cells: [
    [null, { ok: true, rttMs: 0.1 }, { ok: true, rttMs: 0.2 }],
    [{ ok: true, rttMs: 0.1 }, null, { ok: false, error: 'no reply (timed out)' }],
    [{ ok: false, error: 'no reply (timed out)' }, { ok: false, error: 'no reply (timed out)' }, null],
  ],
  expected: [
    [null, { reachable: true }, { reachable: false, reason: 'vpcs a and b are not peered' }],
    [{ reachable: true }, null, { reachable: false, reason: 'vpcs a and b are not peered' }],
    [{ reachable: false, reason: 'vpcs b and a are not peered' }, { reachable: false, reason: 'vpcs b and a are not peered' }, null],
  ],
  elapsedMs: 301.5,
};

test('--all: a summary, then only the pairs that differ from the prediction', (t) => {
  const c = compare(matrix);
  t.is(c.pairs, 6);
  t.is(c.asExpected, 5);
  t.deepEqual(c.unexpected.map((p) => `${p.from}->${p.to}`), ['a/web->b/web']);
  const text = renderSummary(c);
  t.regex(text, /^3 subnets, 6 pairs probed \(ICMP\) in 302 ms$/m);
  t.regex(text, /^5 of 6 pairs as expected; 1 differs:$/m);
  t.regex(text, /a\/web\s+b\/web\s+reachable \(0\.20 ms\)\s+blocked \(vpcs a and b are not peered\)/);
  t.notRegex(text, /a\/db/, 'pairs as expected are not listed');
  const fine = compare({ ...matrix, cells: matrix.cells.map((r, i) => r.map((c, j) => (c === null ? null : { ok: matrix.expected[i]![j]!.reachable }))) });
  t.regex(renderSummary(fine), /^6 of 6 pairs as expected$/m);
});

test('logs --tail: the last N lines', (t) => {
  t.is(lastLines('a\nb\nc\n', 2), 'b\nc\n');
  t.is(lastLines('a\nb\nc', 1), 'c');
  t.is(lastLines('a\n', 5), 'a\n');
  t.is(lastLines('a\nb\n', 0), '');
  t.is(nonNegativeInt('20'), 20);
  t.throws(() => nonNegativeInt('-1'));
  t.throws(() => nonNegativeInt('ten'));
});

test('messages: one vpcctl prefix; required options marked in --help', (t) => {
  t.is(prefixed('create-vpc needs root'), 'vpcctl: create-vpc needs root');
  t.is(prefixed('vpcctl has no native binary for x'), 'vpcctl has no native binary for x');
  const program = new Command('vpcctl');
  markRequired(program);
  const sub = program.command('create-vpc').requiredOption('--name <name>', 'VPC name').option('--uplink <iface>', 'uplink');
  const help = sub.helpInformation();
  t.regex(help, /--name <name>\s+VPC name \(required\)/);
  t.notRegex(help, /uplink \(required\)/);
});

test('an unknown command with --help is reported, not answered with the global help', (t) => {
  const program = new Command('vpcctl').option('--state-dir <dir>');
  program.command('list-vpcs');
  const cluster = program.command('cluster');
  cluster.command('status');
  const argv = (...a: string[]) => ['node', 'vpcctl', ...a];
  t.deepEqual(unknownCommandFirst(program, argv('clustr', '--help')), argv('clustr'));
  t.deepEqual(unknownCommandFirst(program, argv('--state-dir', 'list-vpcs', 'clustr', '-h')), argv('--state-dir', 'list-vpcs', 'clustr'), "an option's value is no command");
  t.deepEqual(unknownCommandFirst(program, argv('cluster', 'statsu', '--help')), argv('cluster', 'statsu'));
  t.deepEqual(unknownCommandFirst(program, argv('list-vpcs', '--help')), argv('list-vpcs', '--help'));
  t.deepEqual(unknownCommandFirst(program, argv('--help')), argv('--help'));
  t.deepEqual(unknownCommandFirst(program, argv('help', 'list-vpcs')), argv('help', 'list-vpcs'));
  t.deepEqual(unknownCommandFirst(program, argv('help', 'clustr')), argv('clustr'));
});
