import { readdirSync } from 'node:fs';
import { packageJson } from './paths.js';
import { platformArchTriples } from '@napi-rs/triples';

/**
 * Which prebuilt native binary this machine needs, from @napi-rs/triples (the
 * same table napi-rs uses to name per-platform packages), checked against
 * the targets the package ships (package.json "napi.targets").
 */
export interface PlatformInfo {
  /** e.g. linux-x64-gnu: the suffix of the .node file and of the per-platform package. */
  platformArchABI: string | null;
  triple: string | null;
  supported: boolean;
  targets: string[];
}

/** musl systems have a musl dynamic loader in /lib (process.report would tell too, at ~40 ms). */
const libc = (): 'gnu' | 'musl' => {
  try {
    return readdirSync('/lib').some((f) => f.startsWith('ld-musl-')) ? 'musl' : 'gnu';
  } catch {
    return 'gnu';
  }
};

export function platformInfo(): PlatformInfo {
  const pkg = packageJson();
  const candidates = platformArchTriples[process.platform]?.[process.arch] ?? [];
  const abi = process.platform === 'linux' ? libc() : undefined;
  const match = candidates.find((t) => t.abi === abi) ?? null;
  // The package's typings call the triple `raw`; its data calls it `triple`.
  const triple = match ? ((match as unknown as { triple?: string }).triple ?? match.raw) : null;
  return {
    platformArchABI: match?.platformArchABI ?? null,
    triple,
    supported: !!triple && pkg.napi.targets.includes(triple),
    targets: pkg.napi.targets,
  };
}
