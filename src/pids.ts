import { readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat after the command name (state first), or null when it is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  const f = statFields(pid);
  return f !== null && f[0] !== 'Z';
}

/** The process group of `pid` (field 5 of /proc/PID/stat), or null when it is gone. */
export function pgidOf(pid: number): number | null {
  const f = statFields(pid);
  return f ? Number(f[2]) : null;
}
/** The environment `pid` started with (/proc/PID/environ), or an empty map when it cannot be read. */
export function environOf(pid: number): Map<string, string> {
  try {
    return new Map(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]));
  } catch {
    return new Map();
  }
}
