import { VpcctlError } from '../../src/errors.js';

/** The VpcctlError thrown by fn (fails the test run if it does not throw one). */
export function errorOf(fn: () => unknown): VpcctlError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VpcctlError) return err;
    throw err;
  }
  throw new Error('expected a VpcctlError');
}
