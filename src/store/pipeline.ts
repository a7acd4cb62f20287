// PostgreSQL transactions with fewer round trips. The store's pg connections run in pg's pipeline mode (a query is
// sent without waiting for the previous one's answer; the server answers them in order). A transaction uses it
// for the statements whose answer nothing waits for:
// - BEGIN goes out together with the transaction's first statement;
// - deferred writes (the audit event of a change, a new machine, a new order) go out together with whatever
//   follows them, usually COMMIT.
// Statements sent in one tick leave in one write (the socket is corked until the next tick), so a registration is
// two round trips (BEGIN + identity look-up; machine + audit event + COMMIT) instead of five.
// Atomicity is PostgreSQL's: a deferred statement that fails aborts the transaction, every later statement fails,
// and COMMIT of an aborted transaction rolls it back. The transaction then throws the deferred statement's error
// (the cause, not the "transaction is aborted" errors after it), and a COMMIT that answers anything but COMMIT is
// an error too, so a change is never reported done when it was rolled back.

/** A pg client as used here: its query, and the socket behind it (to batch the writes of one tick). */
export interface PgClient {
  query(q: string | { name?: string; text: string; values?: readonly unknown[]; rowMode?: 'array' }): Promise<{
    rows: unknown[];
    command?: string;
  }>;
  pipeline?: boolean;
  connection?: { stream?: { cork(): void; uncork(): void; writableCorked?: number } };
}

/** Per connection in a pipelined transaction: the statements sent and not yet awaited, each settled to its error. */
const deferred = new WeakMap<object, Array<Promise<unknown>>>();

/** Whether transactions on `conn` are pipelined (a pg client created with pipeline: true). */
export const pipelined = (conn: unknown): conn is PgClient => (conn as PgClient).pipeline === true;

/** Holds the socket's writes until the next tick, so the statements sent in this one leave in one write. */
export function batch(conn: PgClient): void {
  const stream = conn.connection?.stream;
  if (!stream || stream.writableCorked) return;
  stream.cork();
  process.nextTick(() => stream.uncork());
}

/** Sends `q` on a pipelined transaction's connection without waiting for its answer (see commit and rollback). */
export function sendDeferred(conn: PgClient, q: Parameters<PgClient['query']>[0]): void {
  batch(conn);
  const settled = conn.query(q).then(
    () => undefined,
    (err: unknown) => err,
  );
  const list = deferred.get(conn);
  if (list) list.push(settled);
  else deferred.set(conn, [settled]);
}

/** Whether `conn` is a pipelined transaction's connection (from begin until commit or rollback). */
export const inPipelinedTransaction = (conn: unknown): conn is PgClient => deferred.has(conn as object);

/** Starts a transaction on a pipelined connection: BEGIN leaves with the first statement. */
export function begin(conn: PgClient): void {
  sendDeferred(conn, 'BEGIN');
}

/** The first error of the statements deferred on `conn`, once all have been answered; forgets them. */
async function deferredError(conn: PgClient): Promise<unknown> {
  const list = deferred.get(conn) ?? [];
  deferred.delete(conn);
  for (const err of await Promise.all(list)) if (err !== undefined) return err;
  return undefined;
}

/** Commits: COMMIT leaves with the deferred writes still unsent; throws if any failed or the commit did not. */
export async function commit(conn: PgClient): Promise<void> {
  batch(conn);
  const answer = conn.query('COMMIT').then(
    (r) => ({ command: r.command }),
    (err: unknown) => ({ err }),
  );
  const failed = await deferredError(conn);
  const outcome = await answer;
  if (failed !== undefined) throw failed;
  if ('err' in outcome) throw outcome.err;
  if (outcome.command !== 'COMMIT')
    throw new Error(`PostgreSQL answered ${outcome.command} to COMMIT: the transaction was rolled back.`);
}

/**
 * Rolls back after `err`; throws the first deferred statement's error if one failed (the later ones, `err`
 * among them, only report the aborted transaction), else `err`.
 */
export async function rollback(conn: PgClient, err: unknown): Promise<never> {
  const failed = await deferredError(conn);
  try {
    await conn.query('ROLLBACK');
  } catch {
    // The connection failed with the transaction (the pool's validation drops it); the original error counts.
  }
  throw failed ?? err;
}
