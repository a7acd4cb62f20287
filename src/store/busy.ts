// What the store says when it cannot get the database's write lock in time (another process on the same SQLite
// file holds it, or PostgreSQL keeps choosing this transaction as a deadlock victim). The HTTP layer answers it
// with 503 STORE_BUSY and Retry-After; nothing was written.
export class StoreBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreBusyError';
  }
}

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY, ...). */
export const isSqliteBusy = (err: unknown): boolean =>
  typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');

/** PostgreSQL deadlock_detected and serialization_failure: the transaction was rolled back and may be run again. */
export const isPgRetryable = (err: unknown): boolean => {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A unique constraint refused an insert (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY). */
export const isUniqueViolation = (err: unknown): boolean => {
  const code = (err as { code?: unknown })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
};
