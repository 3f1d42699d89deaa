import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Integration tests run only inside scripts/sandbox.sh (new net, mount and PID
 * namespaces; tmpfs on /run). Outside one, they refuse to run rather than
 * touch the real host.
 */
if (process.env.VPCCTL_SANDBOX !== '1') {
  throw new Error('integration tests must run in the sandbox: scripts/sandbox.sh npx ava test/integration/...');
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'vpcctl');
const pexec = promisify(execFile);
// Absolute paths: npx puts node_modules/.bin first on PATH, and it has an `nft` of its own.
const IP = '/usr/sbin/ip';
const NFT = '/usr/sbin/nft';

/** A fresh state directory on the sandbox's tmpfs. */
export const freshStateDir = () => mkdtempSync('/run/vpcctl/test-');

export interface CliResult { code: number; stdout: string; stderr: string }

/** Run ./vpcctl with a state dir; never throws on a non-zero exit. */
export async function vpcctl(stateDir: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await pexec(process.execPath, [CLI, ...args], {
      env: { ...process.env, VPCCTL_STATE_DIR: stateDir, NO_COLOR: '1', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** iproute2 as an independent witness of what the kernel holds (tests only). */
export function ip(args: string[], ns?: string): string {
  const argv = ns ? ['-n', ns, ...args] : args;
  const r = spawnSync(IP, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${argv.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Waits (up to 5 s) until no IPv6 address of the host namespace is still
 * tentative. A link vpcctl made there (a VPC's gateway link) gets a
 * link-local address from the kernel, whose duplicate address detection
 * ends a second or two after the command; only then are its routes in the
 * host's table. A snapshot taken before that would see them appear later.
 */
export async function settleIpv6(): Promise<void> {
  for (let i = 0; i < 50 && ip(['-6', 'addr', 'show', 'tentative']).trim() !== ''; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Whether no link of `ns` (the host's when absent) matches `name`, waiting up
 * to 5 s for it to go. A veth whose other end was in a deleted namespace
 * goes when the kernel's cleanup destroys that namespace, a moment after
 * the command that deleted it returned.
 */
export async function linkGone(name: RegExp, ns?: string): Promise<boolean> {
  const present = () => ip(['-o', 'link', 'show'], ns).split('\n').some((l) => name.test(l.split(': ')[1]?.split('@')[0] ?? ''));
  for (const t0 = Date.now(); present() && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 20));
  return !present();
}

export const netnsList = (): string[] =>
  ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean).sort();

/** Run a command inside a namespace (tests only). */
export function inNs(ns: string, argv: string[], timeoutMs = 5000) {
  return spawnSync(IP, ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: timeoutMs });
}

export function nft(args: string[], ns?: string): string {
  const r = ns ? spawnSync(IP, ['netns', 'exec', ns, NFT, ...args], { encoding: 'utf8' }) : spawnSync(NFT, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The tiny HTTP client run inside subnets to fetch from the simulated internet. */
export { APP_FETCH as FETCH } from '../../src/paths.js';
