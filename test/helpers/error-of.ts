import { VpcctlError } from '../../src/errors.js';

/** The VpcctlError thrown by fn (fails the test run if it does not throw one). */
export const errorOf = (fn: () => unknown): VpcctlError => errorOfType(VpcctlError, fn);

/** The error of class `type` thrown by fn (fails the test run if it does not throw one). */
export function errorOfType<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}`);
}
