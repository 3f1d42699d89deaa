/**
 * TCP/UDP ports: what a port is (for apps, probes, policy rules), and the
 * port specs of policy rules: 80, "8000-8100", or a list of those. Kept apart
 * from the zod schemas (which take their bounds from here) so the firewall
 * compiler and the CLI's flags (on every command's path) do not load zod.
 */
import { VpcctlError } from '../errors.js';

/** The ports there are; 0 is no port one can listen on or connect to. */
export const PORTS = { min: 1, max: 65535 } as const;
/** `1-65535`, as messages say it. */
export const PORTS_TEXT = `${PORTS.min}-${PORTS.max}`;

export const isPort = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= PORTS.min && (n as number) <= PORTS.max;

/** A port given to the API (an app's, a probe's): INVALID_INPUT, exit 2, when it is none. */
export function checkPort(port: number, text: string = String(port)): number {
  if (!isPort(port)) throw new VpcctlError('INVALID_INPUT', `port ${text} is invalid: use ${PORTS_TEXT}`);
  return port;
}

/** A port typed as text (a command-line flag): digits only, then checkPort. */
export const parsePort = (text: string): number => checkPort(/^\d+$/.test(text) ? Number(text) : NaN, text);

export type PortSpec = number | string | Array<number | string>;

const PORT_RANGE_RE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** "8000-8100" (or "80") as [lo, hi]; null when not a valid range. */
export function parsePortRange(text: string): [number, number] | null {
  const m = PORT_RANGE_RE.exec(text.trim());
  if (!m) return null;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return isPort(lo) && isPort(hi) && lo <= hi ? [lo, hi] : null;
}

/** Inclusive [lo, hi] ranges of an already validated port spec. */
export function portRangesOf(spec: PortSpec): Array<[number, number]> {
  const items = Array.isArray(spec) ? spec : [spec];
  return items.map((item) => (typeof item === 'number' ? [item, item] : parsePortRange(item)!));
}
