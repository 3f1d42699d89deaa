/**
 * `vpcctl ui --open`: the page in the desktop user's browser. vpcctl runs as
 * root, and a browser must not: the opener (xdg-open) runs as the user who
 * called sudo (SUDO_UID/SUDO_GID), with only the variables that find their
 * session, detached. Root without sudo, no display, or no xdg-open: nothing
 * is started, and the caller prints why (the URL is printed anyway).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { invokingUser } from './invoking-user.js';

const SESSION_VARS = ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR', 'DBUS_SESSION_BUS_ADDRESS', 'XAUTHORITY'];

function onPath(cmd: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch { /* not here */ }
  }
  return undefined;
}

/** The home directory of `uid` in /etc/passwd (the browser keeps its profile there), if listed. */
function homeOf(uid: number): string | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === String(uid));
    return line?.split(':')[5] || undefined;
  } catch {
    return undefined;
  }
}

/** Starts the browser on `url`; returns why not, or null when started. */
export function openInBrowser(url: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const { uid, gid, viaSudo } = invokingUser(env);
  if (!viaSudo) return 'not started: vpcctl runs as root without sudo, and a browser must not run as root';
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return 'not started: no display (DISPLAY or WAYLAND_DISPLAY)';
  const opener = onPath('xdg-open', env.PATH);
  if (!opener) return 'not started: no xdg-open on PATH';
  const childEnv: NodeJS.ProcessEnv = { PATH: env.PATH };
  const home = homeOf(uid);
  if (home) childEnv.HOME = home;
  if (env.SUDO_USER) childEnv.USER = env.SUDO_USER;
  for (const k of SESSION_VARS) if (env[k]) childEnv[k] = env[k];
  const child = spawn(opener, [url], { uid, gid, env: childEnv, detached: true, stdio: 'ignore' });
  child.on('error', () => {}); // the URL is printed either way
  child.unref();
  return null;
}
