import test from 'ava';
import { spawnSync } from 'node:child_process';
import { buildProgram } from '../../src/cli/main.js';
import { completionScript } from '../../src/cli/completion.js';
import { manPage } from '../../src/cli/manpage.js';

const bash = (script: string, line: string[]): string[] => {
  // What bash does on Tab: COMP_WORDS/COMP_CWORD set, the function called, COMPREPLY read.
  const words = line.map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _vpcctl; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter(Boolean);
};

test('the bash script loads in bash and completes command names, options and option values', (t) => {
  const script = completionScript(buildProgram(), 'bash');
  const load = spawnSync('bash', ['--norc', '--noprofile', '-c', `${script}\ncomplete -p vpcctl`], { encoding: 'utf8' });
  t.is(load.status, 0, load.stderr);
  t.regex(load.stdout, /complete .*-F _vpcctl vpcctl/);
  t.deepEqual(bash(script, ['vpcctl', 'create-']), ['create-vpc', 'create-subnet']);
  t.deepEqual(bash(script, ['vpcctl', 'clu']), ['cluster']);
  t.deepEqual(bash(script, ['vpcctl', 'cluster', 'st']), ['status']);
  t.true(bash(script, ['vpcctl', 'create-vpc', '--']).includes('--cidr'));
  t.deepEqual(bash(script, ['vpcctl', 'list-vpcs', '-o', '']).sort(), ['json', 'table', 'wide', 'yaml']);
  t.deepEqual(bash(script, ['vpcctl', 'graph', '-o', 'm']), ['mermaid']);
  t.deepEqual(bash(script, ['vpcctl', 'graph', '--output', '']).sort(), ['dot', 'json', 'mermaid', 'svg']);
  t.false(bash(script, ['vpcctl', '']).includes('__complete'), 'the hidden command is not offered');
  t.deepEqual(bash(script, ['vpcctl', '--state-dir', '/tmp', 'list-p']), ['list-peerings', 'list-published'], "a global option's value is skipped");
});

test('zsh and fish scripts come from the same definitions', (t) => {
  const program = buildProgram();
  const zsh = completionScript(program, 'zsh');
  t.regex(zsh, /^#compdef vpcctl/);
  t.regex(zsh, /bashcompinit/);
  const zshLoad = spawnSync('bash', ['-n', '-c', zsh.split('\n').filter((l) => !l.startsWith('autoload')).join('\n')], { encoding: 'utf8' });
  t.is(zshLoad.status, 0, zshLoad.stderr);
  const fish = completionScript(program, 'fish');
  t.regex(fish, /complete -c vpcctl -n '__fish_use_subcommand' -a 'create-vpc'/);
  t.regex(fish, /complete -c vpcctl -n '__fish_seen_subcommand_from graph' -l output -s o -x -a 'svg mermaid dot json'/);
  t.regex(fish, /complete -c vpcctl -n '__fish_seen_subcommand_from show-vpc' -l name -x -a '\(__vpcctl_names vpc\)'/);
  t.regex(fish, /-l subnet -x -a '\(__vpcctl_names subnet\)'/);
  t.regex(fish, /^function __vpcctl_names$/m);
  t.regex(fish, /complete -c vpcctl -n '__fish_seen_subcommand_from show-vpc' -a '\(__vpcctl_names vpc\)'/, 'show-vpc NAME');
  for (const c of program.commands.filter((x) => x.name() !== '__complete')) t.true(fish.includes(`-a '${c.name()}'`), c.name());
  t.false(fish.includes("-a '__complete'"));
});

test('the man page lists every command and marks required options', (t) => {
  const program = buildProgram();
  const page = manPage(program, '1.2.3', '2026-01-01');
  t.regex(page, /^\.TH VPCCTL 1 "2026-01-01" "vpcctl 1\.2\.3"/);
  for (const c of program.commands.filter((x) => x.commands.length === 0 && x.name() !== '__complete')) t.true(page.includes(`.SS vpcctl ${c.name().replace(/-/g, '\\-')}`), c.name());
  t.regex(page, /\.SS vpcctl cluster join/);
  t.false(page.includes('__complete'), 'the hidden command is not in the page');
  t.regex(page, /\.B \\-o, \\-\\-output <format>\noutput format \(default: svg\)\. One of: svg, mermaid, dot, json\./, 'graph -o is the format');
  t.regex(page, /\\-\\-output\\-file <file>/);
  t.regex(page, /\\\-\\\-name <name>\nVPC name \(required\)\./);
  t.notRegex(page, /^[^.\\\n].*\n^'/m, 'no line starts with a quote (a roff control character)');
});
