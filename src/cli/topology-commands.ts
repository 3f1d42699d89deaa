import type { Command } from 'commander';
import { diffLines, type PlanDiff } from '../plan/diff.js';
import type { ApplyResult } from '../api/apply.js';
import type { Vpcctl } from '../api/vpcctl.js';
import { color, print } from './stdio.js';
import { count, dim, printJson, progress, warn } from './output.js';
import { confirmed } from './confirm.js';
import { namedBy, readTopologySource, type TopologySource } from './topology-source.js';

/**
 * The topology commands: `apply -f`, its dry run under the names people
 * know (`plan -f`, `diff -f`), and `destroy -f`. A plan is the object-level
 * diff of the same change the real command makes (src/plan/diff.ts).
 */

type Api = (cmd: Command) => Vpcctl;
/** In cluster mode apply and destroy write the intent to etcd instead (cli/cluster-writes.ts). */
export interface ClusterHooks {
  clustered(cmd: Command): boolean;
  apply(cmd: Command, doc: unknown, prune: boolean): Promise<void>;
  destroy(cmd: Command, doc: unknown): Promise<void>;
}

const FILE_HELP = 'topology file (YAML or JSON), - for standard input, or a directory of *.yaml|*.yml|*.json applied as one';

/** The plan as a person reads it, coloured on a terminal: + green, - red, ~ yellow. */
export function printDiff(diff: PlanDiff): void {
  const c = color();
  for (const line of diffLines(diff)) {
    const paint = line.startsWith('+') ? c.green : line.startsWith('-') ? c.red : line.startsWith('~') ? c.yellow : String;
    print(paint(line));
  }
}

/** `--json` of a plan: the diff as data, with how many kernel operations it takes. */
const planJson = (r: ApplyResult) => ({ ...r.diff, operations: r.plan.ops.length, warnings: r.warnings });

/** Deleting lines of a plan (what a confirmation shows), with what a prune keeps. */
export function goingLines(diff: PlanDiff): string[] {
  const going = diff.items.filter((i) => i.action === 'delete').map((i) => `- ${i.kind} ${i.name}`);
  if (going.length === 0) return [];
  return ['This will delete:', ...going.map((l) => `  ${l}`), ...diff.apps.stop.map((a) => `  - app ${a.vpc}/${a.subnet}:${a.port}`),
    ...diff.kept.map((k) => `  (kept ${k.kind} ${k.name}: ${k.reason})`)];
}

async function plan(api: Vpcctl, source: TopologySource, prune: boolean, json: boolean): Promise<void> {
  const r = await api.apply(source.document, { dryRun: true, prune, owner: source.owner }).catch((e) => { throw namedBy(source, e); });
  for (const w of r.warnings) warn(w);
  if (json) return printJson(planJson(r));
  print(`plan (dry run, nothing changed; ${count(r.plan.ops.length, 'kernel operation')}):`);
  printDiff(r.diff);
}

export function registerTopologyCommands(program: Command, api: Api, cluster: ClusterHooks): void {
  program.command('apply').description('converge on a topology (YAML or JSON; a file, - for stdin, or a directory)')
    .requiredOption('-f, --file <file>', FILE_HELP).option('--dry-run', 'print the plan, change nothing (also: vpcctl plan -f FILE)')
    .option('--prune', 'also remove what an earlier apply of this topology made and it no longer names (asks first on a terminal)')
    .option('-y, --yes', 'do not ask for confirmation').option('--json', 'with --dry-run: the plan as JSON')
    .action(async (o, cmd) => {
      const source = await readTopologySource(o.file);
      if (!o.dryRun && cluster.clustered(cmd)) return cluster.apply(cmd, source.document, !!o.prune);
      if (o.dryRun) return plan(api(cmd), source, !!o.prune, !!o.json);
      const v = api(cmd);
      if (o.prune) {
        const dry = await v.apply(source.document, { dryRun: true, prune: true, owner: source.owner }).catch((e) => { throw namedBy(source, e); });
        if (!(await confirmed(goingLines(dry.diff), { yes: o.yes, what: 'Apply and delete these' }))) return;
      }
      const bar = progress();
      const r = await v.apply(source.document, { prune: o.prune, owner: source.owner, onProgress: bar.onProgress })
        .catch((e) => { throw namedBy(source, e); }).finally(bar.stop);
      for (const w of r.warnings) warn(w);
      const kept = () => { for (const k of r.diff.kept) print(dim(`  kept ${k.kind} ${k.name}: ${k.reason}`)); };
      if (!r.changed) { print('0 changes'); return kept(); }
      print(`${count(r.changes.length, 'change')}, ${count(r.plan.ops.length, 'kernel operation')} in ${r.elapsedMs.toFixed(0)} ms${r.appsStarted.length ? `, ${count(r.appsStarted.length, 'app')} started` : ''}`);
      for (const c of r.changes.slice(0, 20)) print(dim(`  ${c}`));
      if (r.changes.length > 20) print(dim(`  ... and ${r.changes.length - 20} more`));
      kept();
    });
  for (const [name, about] of [['plan', 'show what apply -f would do, change nothing'], ['diff', 'the same as plan']] as const) {
    program.command(name).description(about)
      .requiredOption('-f, --file <file>', FILE_HELP).option('--prune', 'plan the prune too').option('--json', 'machine-readable output')
      .action(async (o, cmd) => plan(api(cmd), await readTopologySource(o.file), !!o.prune, !!o.json));
  }
  program.command('destroy').description('remove the VPCs a topology names (asks first on a terminal)')
    .requiredOption('-f, --file <file>', FILE_HELP).option('-y, --yes', 'do not ask for confirmation')
    .action(async (o, cmd) => {
      const source = await readTopologySource(o.file);
      if (cluster.clustered(cmd)) return cluster.destroy(cmd, source.document);
      const v = api(cmd);
      const dry = await v.destroy(source.document, { dryRun: true }).catch((e) => { throw namedBy(source, e); });
      if (!(await confirmed(goingLines(dry.diff), { yes: o.yes, what: 'Destroy these' }))) return;
      const r = await v.destroy(source.document).catch((e) => { throw namedBy(source, e); });
      print(r.changed ? `removed ${r.value.join(', ')} (${count(r.plan.ops.length, 'kernel operation')}, ${r.elapsedMs.toFixed(0)} ms)` : '0 changes');
    });
}

