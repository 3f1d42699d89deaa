import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VpcctlError } from '../errors.js';
import type { Topology } from '../model/schema.js';
import { readDocument } from './document.js';

/** Where `-f` found a topology: the document, who owns what it makes, and how to name a path of it. */
export interface TopologySource {
  document: Topology;
  /** Recorded on what the apply makes (`apply --prune` removes only its own): `file /abs`, `dir /abs`, `stdin`. */
  owner: string;
  /** Rewrites `vpcs[7]...` of the merged document of a directory to `b.yaml: vpcs[2]...`. */
  where: (message: string) => string;
}

const TOPOLOGY_FILE = /\.(ya?ml|json)$/i;

/**
 * `-f FILE`, `-f -` (standard input) or `-f DIR`: every *.yaml, *.yml and
 * *.json in DIR (not below it), in name order, as one topology (their VPCs
 * and peerings together). Files are read as api/files.ts reads one: regular
 * files within the size limit, else a one-line error naming the file.
 */
export async function readTopologySource(arg: string): Promise<TopologySource> {
  if (arg === '-') return { document: (await readDocument('-', 'topology')) as Topology, owner: 'stdin', where: (m) => m };
  let isDir = false;
  try {
    isDir = statSync(arg).isDirectory();
  } catch {
    // Not there, or not readable: readDocument says which, naming the file.
  }
  if (!isDir) return { document: (await readDocument(arg, 'topology')) as Topology, owner: `file ${realOrResolved(arg)}`, where: (m) => m };

  const names = readdirSync(arg).filter((n) => TOPOLOGY_FILE.test(n)).sort();
  if (names.length === 0) throw new VpcctlError('INVALID_INPUT', `topology directory ${arg} holds no *.yaml, *.yml or *.json file`);
  const vpcs: unknown[] = [];
  const peerings: unknown[] = [];
  const spans: Array<{ file: string; vpcs: number; peerings: number }> = [];
  for (const name of names) {
    const file = join(arg, name);
    const doc = await readDocument(file, 'topology');
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new VpcctlError('INVALID_INPUT', `topology ${file}: expected an object with "vpcs"`);
    }
    const d = doc as Record<string, unknown>;
    for (const key of ['vpcs', 'peerings'] as const) {
      if (d[key] !== undefined && !Array.isArray(d[key])) throw new VpcctlError('INVALID_INPUT', `topology ${file}: ${key}: expected array`);
    }
    const unknown = Object.keys(d).filter((k) => !['vpcs', 'peerings', '$schema', 'name'].includes(k));
    if (unknown.length > 0) throw new VpcctlError('INVALID_INPUT', `topology ${file}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`);
    spans.push({ file, vpcs: vpcs.length, peerings: peerings.length });
    vpcs.push(...((d.vpcs as unknown[] | undefined) ?? []));
    peerings.push(...((d.peerings as unknown[] | undefined) ?? []));
  }
  // A path of the merged document, as the file and its own index.
  const where = (message: string) => message.split('\n').map((line) => line.replace(/^(vpcs|peerings)\[(\d+)\]/, (all, key: 'vpcs' | 'peerings', n: string) => {
    const i = Number(n);
    const span = [...spans].reverse().find((s) => s[key] <= i);
    return span ? `${span.file}: ${key}[${i - span[key]}]` : all;
  })).join('\n');
  return { document: { vpcs, peerings } as Topology, owner: `dir ${realOrResolved(arg)}`, where };
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** A VpcctlError with its paths named by the source (a directory's file), other errors as they are. */
export function namedBy(source: TopologySource, e: unknown): unknown {
  if (!(e instanceof VpcctlError)) return e;
  const message = source.where(e.message);
  if (message === e.message) return e;
  return new VpcctlError(e.code, message, { cause: e, ...(e.issues ? { issues: e.issues.map(source.where) } : {}) });
}
