import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from './sandbox.js';

/** A running `vpcctl ui`: its URL (with the token), the token, and how it ended. */
export interface UiProcess {
  url: string;
  token: string;
  origin: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** SIGINT (Ctrl-C), then its exit code. */
  stop: () => Promise<number | null>;
}

/** Start `vpcctl ui` on a state dir; resolves once it printed its URL. */
export async function startUi(stateDir: string, args: string[], env: Record<string, string> = {}): Promise<UiProcess> {
  const child = spawn(process.execPath, [CLI, 'ui', ...args], {
    env: { ...process.env, VPCCTL_STATE_DIR: stateDir, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => { out += c; });
  child.stderr!.on('data', (c) => { err += c; });
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vpcctl ui printed no URL in 20 s: ${out} ${err}`)), 20_000);
    const look = () => {
      const m = /(http:\/\/\S+\?token=[0-9a-f]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    child.stdout!.on('data', look);
    void exited.then(() => { clearTimeout(timer); reject(new Error(`vpcctl ui exited: ${out} ${err}`)); });
  });
  const u = new URL(url);
  return {
    url, token: u.searchParams.get('token')!, origin: u.origin, child,
    stdout: () => out, stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      const [code] = await exited;
      return code as number | null;
    },
  };
}

/**
 * Debian's chromium, driven by playwright-core (no browser download). Root
 * in a sandbox: no Chrome sandbox. Its resolver answers nothing but
 * 127.0.0.1, so the browser never makes a DNS query of its own.
 */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.VPCCTL_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-proxy-server'],
  });
}
