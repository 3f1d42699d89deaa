import type { Command, Option } from 'commander';
import { leaves } from './completion.js';

/**
 * vpcctl(1) in roff, from the same commander definitions as `--help` and
 * the completion scripts; written to dist/man/vpcctl.1 by the build
 * (scripts/gen-man.mjs), so the page never lags behind the commands.
 */

/** roff text: backslashes and dashes escaped, no line starting with a control character. */
const esc = (s: string) => s.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');

function option(o: Option): string {
  const required = o.mandatory ? ' (required)' : '';
  const choices = o.argChoices ? ` One of: ${o.argChoices.join(', ')}.` : '';
  const dflt = o.defaultValue !== undefined && typeof o.defaultValue !== 'boolean' ? ` Default: ${String(o.defaultValue)}.` : '';
  return `.TP\n.B ${esc(o.flags)}\n${esc(`${o.description}${required}.${choices}${dflt}`.replace(/\.\./g, '.'))}`;
}

export function manPage(program: Command, version: string, date = new Date().toISOString().slice(0, 10)): string {
  const out = [
    `.TH VPCCTL 1 "${date}" "vpcctl ${esc(version)}" "User Commands"`,
    '.SH NAME',
    `vpcctl \\- ${esc(program.description())}`,
    '.SH SYNOPSIS',
    '.B vpcctl',
    '[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR]',
    '.SH DESCRIPTION',
    esc('vpcctl builds AWS-style VPCs out of kernel primitives: a router namespace per VPC, a host namespace per subnet, '
      + 'veth pairs, routes and nftables, programmed in-process over netlink. It needs root, except for doctor, completion and --help.'),
    '.SH GLOBAL OPTIONS',
    ...program.options.filter((o) => !o.hidden).map(option),
    '.SH COMMANDS',
  ];
  for (const { path, cmd } of leaves(program)) {
    const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`));
    out.push(`.SS ${esc(['vpcctl', ...path, ...args].join(' '))}`, esc(cmd.description()));
    const opts = cmd.options.filter((o) => !o.hidden);
    if (opts.length) out.push('.RS', ...opts.map(option), '.RE');
  }
  out.push(
    '.SH OUTPUT',
    esc('Read commands take -o table|wide|json|yaml (--json is -o json); lists also take --no-headers and -q (names only).'),
    '.SH ENVIRONMENT',
    '.TP\n.B VPCCTL_STATE_DIR\nstate directory (default /var/lib/vpcctl)',
    '.TP\n.B NO_COLOR\nno colour, even on a terminal',
    '.SH EXIT STATUS',
    esc('0 success; 1 a failure, drift (status) or an unexpected probe result (test-connectivity); 2 bad input or usage.'),
    '.SH SEE ALSO',
    esc('vpcctl completion bash|zsh|fish; README.md of the package.'),
  );
  return out.join('\n') + '\n';
}
