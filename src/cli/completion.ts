import type { Command, Option } from 'commander';

/**
 * Shell completion for bash, zsh and fish, generated from the commander
 * definitions (`vpcctl completion bash`): a command or option added to
 * main.ts is completed without anyone editing a script. Commands and
 * options are static; the value of an option naming a VPC or a subnet
 * (`--vpc <TAB>`) runs the hidden `vpcctl __complete`, which reads the names
 * from the state file without root, lock or native module
 * (complete-names.ts).
 */
import type { NameKind } from './complete-names.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Leaf {
  /** `create-vpc`, or `cluster join` for a command of a group. */
  path: string[];
  cmd: Command;
}

/** commander marks `{ hidden: true }` commands (`__complete`) on a field of its own. */
const isHidden = (c: Command) => (c as unknown as { _hidden?: boolean })._hidden === true;

const shown = (parent: Command) => parent.commands.filter((c) => !isHidden(c));

/** Every command that is run, with its path of names; groups (`cluster`) are walked into, hidden commands left out. */
export function leaves(program: Command, path: string[] = []): Leaf[] {
  return shown(program).flatMap((c) => {
    const p = [...path, c.name()];
    return c.commands.length ? leaves(c, p) : [{ path: p, cmd: c }];
  });
}

const flags = (o: Option): string[] => [o.long, o.short].filter((f): f is string => !!f);
const visible = (cmd: Command) => cmd.options.filter((o) => !o.hidden);
const takesValue = (o: Option) => o.required || o.optional;
/** Options whose value is a path: the shell completes file names for them. */
const isPath = (o: Option) => /<(file|dir|path)>/.test(o.flags) || /--(policy|state-dir|cluster|file)\b/.test(o.flags);

/**
 * Which names an option's value completes to, from its definition: `<vpc>`
 * values are VPCs, options named for a subnet (`--subnet`, `--to-subnet`,
 * `--targets`) subnets, and `--name` is a VPC or a subnet as its
 * description says, except in `create-*`, where the name is a new one.
 */
export function nameKind(cmd: Command, o: Option): NameKind | undefined {
  if (/<vpc>/.test(o.flags)) return 'vpc';
  if (o.long === '--to-subnet') return 'to-subnet';
  if (o.long === '--targets' || /^--(from-)?subnet$/.test(o.long ?? '')) return 'subnet';
  if (o.long === '--name' && !cmd.name().startsWith('create-')) {
    if (/^VPC name/.test(o.description)) return 'vpc';
    if (/^subnet name/.test(o.description)) return 'subnet';
  }
  return undefined;
}

/** A command whose argument is a VPC's name (`show-vpc NAME`) completes VPC names where no option is being typed. */
export const positionalKind = (cmd: Command): NameKind | undefined =>
  cmd.registeredArguments.some((a) => a.name() === 'vpc') ? 'vpc' : undefined;

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(program: Command): string {
  const all = leaves(program);
  const groups = program.commands.filter((c) => c.commands.length);
  const globals = visible(program);
  const valueFlags = globals.filter(takesValue).flatMap(flags);
  const top = [...shown(program).map((c) => c.name()), 'help', ...globals.flatMap(flags), '--help', '--version'];
  const cases = all.map(({ path, cmd }) => {
    const opts = [...visible(cmd).flatMap(flags), '--help'];
    const values = visible(cmd).filter(takesValue).map((o) => {
      const names = nameKind(cmd, o);
      const reply = o.argChoices ? `COMPREPLY=($(compgen -W ${sq(o.argChoices.join(' '))} -- "$cur"))`
        : names ? `COMPREPLY=($(compgen -W "$(_vpcctl_names ${names})" -- "$cur"))`
        : isPath(o) ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()';
      return `        ${flags(o).join('|')}) ${reply}; return;;`;
    });
    const positional = positionalKind(cmd);
    return [
      `    ${sq(path.join(' '))})`,
      ...(values.length ? ['      case "$prev" in', ...values, '      esac'] : []),
      ...(positional ? [`      [[ $cur != -* ]] && { COMPREPLY=($(compgen -W "$(_vpcctl_names ${positional})" -- "$cur")); return; }`] : []),
      `      opts=${sq(opts.join(' '))};;`,
    ].join('\n');
  });
  const groupCases = groups.map((g) => `    ${sq(g.name())}) COMPREPLY=($(compgen -W ${sq(g.commands.map((c) => c.name()).join(' '))} -- "$cur")); return;;`);
  return `# bash completion for vpcctl, generated from its command definitions ('vpcctl completion bash').
# Load it now:    source <(vpcctl completion bash)
# or for good:    vpcctl completion bash > /etc/bash_completion.d/vpcctl
# VPC and subnet names come from the state file (readable without root), through 'vpcctl __complete'.
_vpcctl_names() {
  "\${COMP_WORDS[0]}" __complete "$1" -- "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null
}
_vpcctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" opts="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${valueFlags.length ? `${valueFlags.join('|')}) ((i++));;` : ''}
      -*) ;;
      *) if [[ -z "$cmd" ]]; then cmd="\${COMP_WORDS[i]}"
         else case "$cmd" in ${groups.map((g) => sq(g.name())).join('|') || "''"}) cmd="$cmd \${COMP_WORDS[i]}"; break;; *) break;; esac; fi;;
    esac
  done
  case "$cmd" in
    '') case "$prev" in
        ${globals.filter(takesValue).map((o) => `${flags(o).join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return;;`).join('\n        ')}
      esac
      COMPREPLY=($(compgen -W ${sq(top.join(' '))} -- "$cur")); return;;
    help) COMPREPLY=($(compgen -W ${sq(shown(program).map((c) => c.name()).join(' '))} -- "$cur")); return;;
${groupCases.join('\n')}
${cases.join('\n')}
    *) return;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _vpcctl vpcctl
`;
}

/** zsh runs the bash function through its bashcompinit layer: one generator, the same answers. */
function zsh(program: Command): string {
  return `#compdef vpcctl
# zsh completion for vpcctl, generated from its command definitions ('vpcctl completion zsh').
# Load it now:    source <(vpcctl completion zsh)
# or for good:    vpcctl completion zsh > "\${fpath[1]}/_vpcctl"
autoload -U +X bashcompinit && bashcompinit
${bash(program).split('\n').filter((l) => !l.startsWith('#')).join('\n')}`;
}

function fish(program: Command): string {
  const lines = [
    "# fish completion for vpcctl, generated from its command definitions ('vpcctl completion fish').",
    '# Load it:  vpcctl completion fish > ~/.config/fish/completions/vpcctl.fish',
    'complete -c vpcctl -f',
    '# VPC and subnet names come from the state file, through \'vpcctl __complete\'.',
    'function __vpcctl_names',
    '    set -l words (commandline -opc)',
    '    $words[1] __complete $argv[1] -- $words[2..-1] 2>/dev/null',
    'end',
  ];
  const describe = (o: Option, cond: string, cmd?: Command) => {
    const names = cmd && nameKind(cmd, o);
    const parts = [`complete -c vpcctl -n ${sq(cond)}`];
    if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
    if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
    if (takesValue(o)) {
      parts.push(o.argChoices ? `-x -a ${sq(o.argChoices.join(' '))}` : names ? `-x -a ${sq(`(__vpcctl_names ${names})`)}` : isPath(o) ? '-r -F' : '-x');
    }
    parts.push(`-d ${sq(o.description)}`);
    return parts.join(' ');
  };
  for (const o of visible(program)) lines.push(describe(o, '__fish_use_subcommand'));
  for (const c of shown(program)) lines.push(`complete -c vpcctl -n '__fish_use_subcommand' -a ${sq(c.name())} -d ${sq(c.description())}`);
  for (const g of program.commands.filter((c) => c.commands.length)) {
    const inGroup = `__fish_seen_subcommand_from ${g.name()}; and not __fish_seen_subcommand_from ${g.commands.map((c) => c.name()).join(' ')}`;
    for (const c of g.commands) lines.push(`complete -c vpcctl -n ${sq(inGroup)} -a ${sq(c.name())} -d ${sq(c.description())}`);
  }
  for (const { path, cmd } of leaves(program)) {
    const cond = path.map((p) => `__fish_seen_subcommand_from ${p}`).join('; and ');
    for (const o of visible(cmd)) lines.push(describe(o, cond, cmd));
    const positional = positionalKind(cmd);
    if (positional) lines.push(`complete -c vpcctl -n ${sq(cond)} -a ${sq(`(__vpcctl_names ${positional})`)}`);
  }
  return lines.join('\n') + '\n';
}

export function completionScript(program: Command, shell: Shell): string {
  return { bash, zsh, fish }[shell](program);
}
