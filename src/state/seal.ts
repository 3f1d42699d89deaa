import { fingerprint } from '../fingerprint.js';
import type { State } from './types.js';

/**
 * state.json ends with a checksum of the rest of its text:
 *   {"version":1,...,"checksum":"fp64:<hex>"}
 * A file whose checksum matches is one vpcctl wrote (after its own checks)
 * and nobody changed since: its shape is known, and reading it needs no
 * schema (loading zod costs ~20 ms, a fifth of a quick call; the fingerprint
 * of a 500-subnet state ~0.3 ms). Any other file (edited by hand, truncated,
 * from an older vpcctl, sealed with sha256 before) is validated against
 * the state schema, so a checksum never makes a file unreadable: it only
 * decides how much checking it gets.
 */

const MARK = ',"checksum":"';
const PREFIX = 'fp64:';

const digest = (body: string) => PREFIX + fingerprint(body);

/** The state as the text of state.json, checksum last. */
export function seal(state: State): string {
  const { checksum: _, ...rest } = state as State & { checksum?: unknown };
  const body = JSON.stringify(rest);
  return `${body.slice(0, -1)}${MARK}${digest(body)}"}\n`;
}

/** Whether `text` is a sealed state whose checksum matches its content. */
export function isSealed(text: string): boolean {
  const at = text.lastIndexOf(MARK);
  if (at < 0) return false;
  const start = at + MARK.length;
  const end = text.indexOf('"', start);
  if (end < 0 || text.slice(end).trimEnd() !== '"}') return false;
  return text.slice(start, end) === digest(`${text.slice(0, at)}}`);
}
