/**
 * Who asked: vpcctl runs as root, mostly through sudo, and what it does for
 * the person at the keyboard rather than for the host (a browser, a file
 * they asked for) is done as them. SUDO_UID/SUDO_GID name them; without
 * sudo (or when sudo came from root), root itself.
 */
export interface InvokingUser { uid: number; gid: number; viaSudo: boolean }

export function invokingUser(env: NodeJS.ProcessEnv = process.env): InvokingUser {
  const uid = Number(env.SUDO_UID);
  const gid = Number(env.SUDO_GID);
  if (env.SUDO_UID && Number.isInteger(uid) && uid > 0 && env.SUDO_GID && Number.isInteger(gid) && gid >= 0) {
    return { uid, gid, viaSudo: true };
  }
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, viaSudo: false };
}
