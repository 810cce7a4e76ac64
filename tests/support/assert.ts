/**
 * The assertions the tests use. JSR's @std/assert is not reachable here, so these are small
 * equivalents with the same names and messages in the same spirit.
 */

import { deepStrictEqual } from "node:assert";

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  try {
    deepStrictEqual(actual, expected);
  } catch (error) {
    throw new AssertionError(`${message ? message + ": " : ""}${(error as Error).message}`);
  }
}

export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  message?: string,
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${actual} to be within ${tolerance} of ${expected}`,
    );
  }
}

/** `error` when it is an `errorClass` whose message includes `includes`; else an AssertionError. */
function expectedError(
  error: unknown,
  errorClass: new (...args: never[]) => Error,
  includes: string | undefined,
): Error {
  if (!(error instanceof errorClass)) {
    throw new AssertionError(
      `expected ${errorClass.name}, got ${(error as Error)?.constructor?.name}: ${error}`,
    );
  }
  if (includes && !(error as Error).message.includes(includes)) {
    throw new AssertionError(
      `expected the message to include "${includes}", got "${(error as Error).message}"`,
    );
  }
  return error as Error;
}

export function assertThrows(
  fn: () => unknown,
  errorClass: new (...args: never[]) => Error = Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (error) {
    return expectedError(error, errorClass, includes);
  }
  throw new AssertionError("expected the function to throw");
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass: new (...args: never[]) => Error = Error,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return expectedError(error, errorClass, includes);
  }
  throw new AssertionError("expected the promise to reject");
}
