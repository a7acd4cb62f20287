// A value now, or a promise of it. The hot reads answer synchronously where the engine does (better-sqlite3 on the
// read-only handle) and with a promise elsewhere (PostgreSQL, knex). Code on those paths passes either along
// instead of awaiting it, so a request that waits for no I/O is answered in the tick it arrived in: no promise and
// no microtask per step (bench/RESULTS.md). Errors: a step may throw now or reject later; the HTTP layer takes both.
export type Awaitable<T> = T | Promise<T>;

/** `f` of `v`'s value: now when `v` is a value (a throw of `f` is then a throw now), after it when it is a promise. */
export function andThen<T, U>(v: Awaitable<T>, f: (value: T) => Awaitable<U>): Awaitable<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}
