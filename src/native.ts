import { VpcctlError } from './errors.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from './paths.js';
import { platformInfo } from './platform.js';

/**
 * The native module (crates/vpcctl-node), typed by the generated index.d.ts.
 * Loaded on first use so `vpcctl --help` and `vpcctl doctor` work (and say
 * why) even where the addon cannot load.
 */
export type Native = typeof import('../index.js');

let cached: Native | undefined;

export async function native(): Promise<Native> {
  if (cached) return cached;
  const platform = platformInfo();
  if (!platform.supported) {
    throw new VpcctlError('KERNEL', `vpcctl has no native binary for ${process.platform}-${process.arch}${platform.triple ? ` (${platform.triple})` : ''}: it ships ${platform.targets.join(', ')}`);
  }
  try {
    // index.js is the napi-rs loader: it picks the .node file for this platform.
    // By path from the package root, so the bundled CLI (dist/bundle/) finds it too.
    cached = (await import(pathToFileURL(join(PACKAGE_ROOT, 'index.js')).href)) as Native;
  } catch (e) {
    throw new VpcctlError('KERNEL', `cannot load vpcctl's native module: ${(e as Error).message.split('\n')[0]} (run 'make build')`);
  }
  return cached;
}

/** Turn a rejection of the native module into a VpcctlError('KERNEL') with its message. */
export async function kernel<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw e instanceof VpcctlError ? e : new VpcctlError('KERNEL', (e as Error).message, { cause: e });
  }
}
