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
 * and was left alone; `PARTIAL`: a plan failed after namespace deletions,
 * and nothing was rolled back.
 */
export const NATIVE_CODES = [
  'EXISTS', 'NOT_FOUND', 'BUSY', 'DENIED', 'TIMEOUT', 'INVALID', 'FOREIGN', 'NFTABLES', 'UNSUPPORTED', 'PARTIAL', 'OTHER',
] as const;
export type NativeCode = (typeof NATIVE_CODES)[number];

export class VpcctlError extends Error {
  readonly code: ErrorCode;
  /** For errors from the native module: what kind of failure it was. */
  readonly native?: NativeCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; native?: NativeCode }) {
    super(message, options);
    this.name = 'VpcctlError';
    this.code = code;
    if (options?.native) this.native = options.native;
  }
  /** 2 when the user's input was wrong (state and kernel untouched), 1 otherwise. */
  get exitCode(): number {
    return INPUT_CODES.has(this.code) ? 2 : 1;
  }
}
