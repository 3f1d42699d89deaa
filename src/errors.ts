/**
 * Every failure vpcctl reports carries a stable code, so programs can branch on
 * it and the CLI can map it to an exit code: 2 for bad input, 1 otherwise.
 */
export type ErrorCode =
  | 'INVALID_INPUT' // malformed flag, file or value
  | 'INVALID_NAME'
  | 'INVALID_CIDR'
  | 'INVALID_POLICY'
  | 'OVERLAP' // CIDRs that may not overlap do
  | 'CONFLICT' // same name, another spec
  | 'NOT_FOUND'
  | 'IN_USE' // e.g. a port already taken by an app
  | 'NOT_ROOT'
  | 'KERNEL' // the kernel refused an operation (the plan was rolled back)
  | 'STATE' // the state file is unreadable or locked
  | 'ETCD'; // the cluster's etcd did not answer (no member reachable, no quorum)

const INPUT_CODES: ReadonlySet<ErrorCode> = new Set([
  'INVALID_INPUT', 'INVALID_NAME', 'INVALID_CIDR', 'INVALID_POLICY', 'OVERLAP', 'CONFLICT', 'NOT_FOUND', 'IN_USE',
]);

/**
 * The kind of a failure in the native module (netkit's `Kind`, one code per
 * variant; test/unit/errors.test.ts checks the list against
 * crates/netkit/src/error.rs): set on a `KERNEL` error as `native`, so a
 * caller can tell a name already taken (`EXISTS`) from a timeout without
 * reading the message. `FOREIGN`: the object is there but is not vpcctl's,
 * and was left alone; `PARTIAL`: a plan failed after deletions (of
 * namespaces, or of a tagged veth), and nothing was rolled back.
 */
export const NATIVE_CODES = [
  'EXISTS', 'NOT_FOUND', 'BUSY', 'DENIED', 'TIMEOUT', 'INVALID', 'FOREIGN', 'NFTABLES', 'UNSUPPORTED', 'PARTIAL', 'OTHER',
] as const;
/** The kind of a native module failure (netkit's `Kind`). */
export type NativeCode = (typeof NATIVE_CODES)[number];

/** Every failure vpcctl reports: a stable `code`, `native` for the kernel's, `issues` for a document's problems. */
export class VpcctlError extends Error {
  readonly code: ErrorCode;
  /** For errors from the native module: what kind of failure it was. */
  readonly native?: NativeCode;
  /**
   * For a document with several problems (a topology file): every one, each
   * with its path (`vpcs[0].subnets[3].type: ...`). The message holds them
   * one per line.
   */
  readonly issues?: string[];
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; native?: NativeCode; issues?: string[] }) {
    super(message, options);
    this.name = 'VpcctlError';
    this.code = code;
    if (options?.native) this.native = options.native;
    if (options?.issues && options.issues.length > 1) this.issues = options.issues;
  }
  /** 2 when the user's input was wrong (state and kernel untouched), 1 otherwise. */
  get exitCode(): number {
    return INPUT_CODES.has(this.code) ? 2 : 1;
  }
}

/** At most this many problems are listed; the rest are counted. */
const MAX_ISSUES = 50;

/**
 * One error for a list of problems found in a document: the first one's
 * code, the message the problems one per line (the first alone is the
 * message as before), `issues` all of them.
 */
export function issuesError(code: ErrorCode, issues: readonly string[]): VpcctlError {
  const shown = issues.slice(0, MAX_ISSUES);
  if (issues.length > MAX_ISSUES) shown.push(`... and ${issues.length - MAX_ISSUES} more problems`);
  return new VpcctlError(code, shown.join('\n'), { issues: [...issues] });
}
