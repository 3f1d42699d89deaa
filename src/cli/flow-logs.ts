/**
 * `vpcctl flow-logs`: the switch (`enable`/`disable --vpc V`) and the
 * records, recent ones from the rings or `--follow` live (src/api/flow-logs.ts).
 */
import type { Command } from 'commander';
import { VpcctlError } from '../errors.js';
import type { Vpcctl } from '../api/vpcctl.js';
import { formatEntry, parseSince } from '../model/flow-logs.js';
import { printJson, reportChange, warn } from './output.js';
import { print, writeErr, writeOut } from './stdio.js';

export function registerFlowLogs(program: Command, api: (cmd: Command) => Vpcctl, localOnly: (cmd: Command, what: string) => void): void {
  program.command('flow-logs')
    .description('flow logs of a VPC: one line per new connection a subnet policy decided (ACCEPT/REJECT and the rule); enable|disable switches them')
    .argument('[switch]', 'enable or disable the VPC\'s flow logs (omit to print them)')
    .requiredOption('--vpc <vpc>', 'VPC name').option('--subnet <name>', 'only this subnet')
    .option('--follow', 'stream new records (and keep them in the ring files) until interrupted')
    .option('--since <when>', 'only records since a duration ago (30s, 5m, 2h, 1d) or an ISO 8601 time')
    .option('--json', 'machine-readable output (with --follow: one JSON object per line)')
    .action(async (sw: string | undefined, o, cmd: Command) => {
      localOnly(cmd, 'flow-logs');
      const v = api(cmd);
      if (sw !== undefined) {
        if (sw !== 'enable' && sw !== 'disable') throw new VpcctlError('INVALID_INPUT', `flow-logs "${sw}": use enable, disable, or no argument to print the records`);
        if (o.subnet !== undefined || o.follow || o.since !== undefined || o.json) {
          throw new VpcctlError('INVALID_INPUT', `flow-logs ${sw} takes only --vpc: flow logs are switched per VPC`);
        }
        const r = await v.setFlowLogs({ vpc: o.vpc, enabled: sw === 'enable' });
        return reportChange(r, `flow logs ${sw === 'enable' ? 'on' : 'off'} for vpc ${o.vpc}`);
      }
      const since = o.since !== undefined ? parseSince(o.since) : undefined;
      const q = { vpc: o.vpc, subnet: o.subnet, since };
      if (!o.follow) {
        const entries = await v.flowLogs(q);
        if (o.json) return printJson(entries);
        if (!(await v.state()).vpcs[o.vpc]?.flowLogs) warn(`flow logs of vpc "${o.vpc}" are off: 'vpcctl flow-logs enable --vpc ${o.vpc}'`);
        if (entries.length === 0) return print("no flow-log records kept: they are kept while 'vpcctl flow-logs --follow' runs");
        return print(entries.map(formatEntry).join('\n'));
      }
      // Printed before --follow's first record: its past (--since) from the rings.
      if (since !== undefined) for (const e of await v.flowLogs(q)) writeOut(`${o.json ? JSON.stringify(e) : formatEntry(e)}\n`);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await v.followFlowLogs(q, (e) => writeOut(`${o.json ? JSON.stringify(e) : formatEntry(e)}\n`), {
          signal: stop.signal,
          warn,
          onReady: (subnets) => writeErr(`following flow logs of vpc ${o.vpc} (${subnets.join(', ') || 'no subnet'}); Ctrl-C stops\n`),
          onSubnet: (subnet) => writeErr(`following subnet ${o.vpc}/${subnet} too (made since)\n`),
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
