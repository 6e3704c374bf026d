/**
 * Values that are there at once from an in-process source (a SQLite bank, the DCN scored in this
 * thread) and arrive later from a networked or threaded one (Redis, the LM, ORT). The scoring route
 * chains its steps with `andThen`, so that a request whose every step answers at once makes no
 * promise: awaited, each step was an async function's promise and a microtask hop, 5-9 µs of a
 * request's 110-150 (paired runs at 3,000-4,000 requests/s, docs/serving.md).
 */
export type Eventually<T> = T | Promise<T>;

/** `next(value)` now when `value` is there, else once it arrives. */
export function andThen<T, U>(value: Eventually<T>, next: (value: T) => Eventually<U>): Eventually<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
