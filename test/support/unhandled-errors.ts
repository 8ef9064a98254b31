// For the operators' error-boundary tests: what rxjs reports as unhandled while `body` runs (an exception
// that escaped an operator instead of erroring its output). Run marble tests inside it: TestScheduler.run
// delivers rxjs's reports in virtual time, before this returns.

import { config } from 'rxjs';

export function unhandledErrorsOf(body: () => void): unknown[] {
  const errors: unknown[] = [];
  const previous = config.onUnhandledError;
  config.onUnhandledError = (error: unknown) => void errors.push(error);
  try {
    body();
  } finally {
    config.onUnhandledError = previous;
  }
  return errors;
}
