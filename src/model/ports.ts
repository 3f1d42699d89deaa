/**
 * Port specs of policy rules: 80, "8000-8100", or a list of those. Kept apart
 * from the zod schemas so the firewall compiler (on every command's path)
 * does not load zod.
 */
export type PortSpec = number | string | Array<number | string>;

const PORT_RANGE_RE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** "8000-8100" (or "80") as [lo, hi]; null when not a valid range. */
export function parsePortRange(text: string): [number, number] | null {
  const m = PORT_RANGE_RE.exec(text.trim());
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi ? [lo, hi] : null;
}

/** Inclusive [lo, hi] ranges of an already validated port spec. */
export function portRangesOf(spec: PortSpec): Array<[number, number]> {
  const items = Array.isArray(spec) ? spec : [spec];
  return items.map((item) => (typeof item === 'number' ? [item, item] : parsePortRange(item)!));
}
