import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './paths.js';
import { platformInfo } from './platform.js';

/** The native module (crates/vpcctl-node), typed by the generated index.d.ts. */
export type Native = typeof import('../index.js');

/**
 * Requires the addon itself, not napi's generic loader (index.js, what
 * `vpcctl/native` exports): that one probes for musl by reading
 * /usr/bin/ldd and is an ES module of its own, which every CLI call would
 * pay for. platformInfo names the binary: next to package.json in a build
 * from source, or in the per-platform package npm installs. Node keeps what
 * it required, so the launcher's early read (cli/early.ts) and native.ts
 * share one load. Throws a one-line reason when it cannot load.
 */
export function loadAddon(opts: { shortLived?: boolean } = {}): Native {
  const platform = platformInfo();
  if (!platform.supported) {
    throw new Error(`vpcctl has no native binary for ${process.platform}-${process.arch}${platform.triple ? ` (${platform.triple})` : ''}: it ships ${platform.targets.join(', ')}`);
  }
  // The addon allocates with mimalloc, which reads its options from the
  // environment at load. By default it keeps freed pages of its many
  // executor threads for a while, and backs its arenas with transparent
  // huge pages, each zeroed whole on first touch: together ~45 MB more peak
  // RSS for a 500-subnet apply, and ~1 ms more to load the addon.
  // `shortLived`: a call that ends on a read of thousands of namespaces (the
  // launcher's early read, cli/early.ts) keeps freed pages instead: giving
  // them back, only to exit, was madvise calls and TLB shootdowns on every
  // thread, ~5-9 ms of a no-op re-apply of 5,000 subnets.
  process.env.MIMALLOC_PURGE_DELAY ??= opts.shortLived ? '-1' : '0';
  process.env.MIMALLOC_ALLOW_THP ??= '0';
  const require = createRequire(join(PACKAGE_ROOT, 'package.json'));
  const errors: string[] = [];
  for (const where of [`./vpcctl.${platform.platformArchABI}.node`, `vpcctl-${platform.platformArchABI}`]) {
    try {
      return require(where) as Native;
    } catch (e) {
      errors.push((e as Error).message.split('\n')[0]!);
    }
  }
  throw new Error(`cannot load vpcctl's native module: ${errors.join('; ')} (run 'make build')`);
}
