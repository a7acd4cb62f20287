// The one way services open a transaction and lock what they are about to change.
//
// Every read-modify-write reads its row with `forUpdate` inside `withTransaction`:
// - PostgreSQL: `SELECT ... FOR UPDATE` takes a row lock that a concurrent writer of the same row waits for, so
//   the second one reads the first one's committed result, never a stale copy (READ COMMITTED re-reads the row
//   after the wait). Locks are always taken parent first (machine, then pairing, then order), so two
//   transactions do not wait on each other in a cycle; if PostgreSQL still reports a deadlock or a
//   serialization failure, the transaction was rolled back and is run again (a few times, then StoreBusyError).
// - SQLite: writing transactions start with BEGIN IMMEDIATE (sqlite-client.ts), which takes the database's
//   write lock before the first read: every transaction is serial across connections and processes, so the
//   row lock is implied and `forUpdate` adds nothing.
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import { StoreBusyError, isPgRetryable, sleep } from './busy.ts';
import { emit, hasListeners } from '../observe.ts';
import { begin, commit, pipelined, rollback } from './pipeline.ts';

type Executor = Knex | Knex.Transaction;

export const isPg = (db: Executor): boolean => db.client.config.client === 'pg';

/** Locks the rows `qb` selects until the transaction ends (PostgreSQL); SQLite's transactions hold the write lock. */
export function forUpdate<T extends Knex.QueryBuilder>(qb: T): T {
  if ((qb as unknown as { client: Knex.Client }).client.config.client === 'pg') qb.forUpdate();
  return qb;
}

/**
 * Work that must commit together with the state change of the current request (the idempotency key's
 * "applied" mark): the HTTP layer sets it for a request; every transaction of that request runs it last.
 */
export interface RequestWrites {
  beforeCommit(trx: Knex.Transaction): Promise<void>;
  applied: boolean;
}
export const requestWrites = new AsyncLocalStorage<RequestWrites>();

const PG_ATTEMPTS = 5;

/** Work to run once the transaction `trx` has committed (metrics of what it changed); dropped on rollback. */
const committed = new WeakMap<Knex.Transaction, Array<(root: Knex) => void>>();
export function afterCommit(db: Knex | Knex.Transaction, fn: (root: Knex) => void): void {
  if (!db.isTransaction) return fn(db as Knex);
  const trx = db as Knex.Transaction;
  const list = committed.get(trx);
  if (list) list.push(fn);
  else committed.set(trx, [fn]);
}

// knex's own transactions build a new knex instance for every transaction (makeKnex: about a hundred closures and
// property definitions), which was the largest single cost of a write (bench/RESULTS.md). A transaction here runs
// on a transactor made once per connection instead: a knex instance whose client always hands out that
// connection, used only while this function holds the connection (taken from the pool for the whole transaction,
// as knex does), between a BEGIN and a COMMIT or ROLLBACK sent on the connection. On SQLite the client turns
// BEGIN into BEGIN IMMEDIATE and waits for another process's lock (sqlite-client.ts).
const require = createRequire(import.meta.url);
// knex ships its builder factory as untyped CommonJS. Should a knex release move it, transactions fall back to
// knex's own (slower, the same semantics).
const makeKnex = ((): ((client: Knex.Client) => Knex) | undefined => {
  try {
    return require('knex/lib/knex-builder/make-knex.js') as (client: Knex.Client) => Knex;
  } catch {
    return undefined;
  }
})();

interface RawClient extends Knex.Client {
  _query(connection: unknown, obj: { sql: string; bindings: unknown[] }): Promise<unknown>;
}

const transactors = new WeakMap<object, Knex.Transaction>();

function transactorFor(client: RawClient, connection: object): Knex.Transaction {
  let trx = transactors.get(connection);
  if (trx) return trx;
  const trxClient = Object.create(client) as RawClient;
  // Its own listener table: knex registers forwarding listeners on the client it is given.
  EventEmitter.call(trxClient as unknown as EventEmitter);
  Object.assign(trxClient, {
    transacting: true,
    acquireConnection: () => Promise.resolve(connection),
    releaseConnection: () => Promise.resolve(),
  });
  trx = makeKnex!(trxClient) as unknown as Knex.Transaction;
  (trx as { isTransaction?: boolean }).isTransaction = true;
  transactors.set(connection, trx);
  return trx;
}

/** How a transaction starts and ends on its connection. */
interface Ends {
  begin(): Promise<void> | void;
  /** Commits; throws if the transaction did not commit. */
  commit(): Promise<void>;
  /** Rolls back after `err` and throws the error that caused it. */
  rollback(err: unknown): Promise<never>;
}

/** BEGIN, COMMIT and ROLLBACK each sent and answered in turn; a COMMIT that fails is followed by a ROLLBACK. */
function sequentialEnds(client: RawClient, connection: object): Ends {
  const send = async (sql: string) => void (await client._query(connection, { sql, bindings: [] }));
  const rollback = async (err: unknown): Promise<never> => {
    try {
      await send('ROLLBACK;');
    } catch {
      // The connection failed with the transaction (the pool's validation drops it); the original error counts.
    }
    throw err;
  };
  return { begin: () => send('BEGIN;'), commit: () => send('COMMIT;').catch(rollback), rollback };
}

async function transaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (!makeKnex) return db.transaction(work);
  const client = db.client as RawClient;
  const connection = (await client.acquireConnection()) as object;
  try {
    const trx = transactorFor(client, connection);
    // PostgreSQL: BEGIN leaves with the first statement, COMMIT with the deferred writes (pipeline.ts).
    const ends: Ends = pipelined(connection)
      ? {
          begin: () => begin(connection),
          commit: () => commit(connection),
          rollback: (err) => rollback(connection, err),
        }
      : sequentialEnds(client, connection);
    await ends.begin();
    let out: T;
    try {
      out = await work(trx);
    } catch (err) {
      return await ends.rollback(err);
    } finally {
      committed.delete(trx);
    }
    await ends.commit();
    return out;
  } finally {
    await client.releaseConnection(connection);
  }
}

export async function withTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const writes = requestWrites.getStore();
  const observed = hasListeners();
  for (let attempt = 1; ; attempt++) {
    const started = observed ? performance.now() : 0;
    let done: Array<(root: Knex) => void> | undefined;
    try {
      const out = await transaction(db, async (trx) => {
        const result = await work(trx);
        if (writes) await writes.beforeCommit(trx);
        done = committed.get(trx);
        return result;
      });
      if (writes) writes.applied = true;
      if (observed) emit({ kind: 'tx', db, seconds: (performance.now() - started) / 1000, outcome: 'commit' });
      if (done) for (const fn of done) fn(db);
      return out;
    } catch (err) {
      const retry = isPgRetryable(err) && attempt < PG_ATTEMPTS;
      if (observed)
        emit({ kind: 'tx', db, seconds: (performance.now() - started) / 1000, outcome: retry ? 'retry' : 'rollback' });
      if (!isPgRetryable(err)) throw err;
      if (!retry)
        throw new StoreBusyError(
          `PostgreSQL kept aborting the transaction (${(err as { code: string }).code}) after ${attempt} attempts.`,
        );
      await sleep(5 * attempt + Math.random() * 10 * attempt);
    }
  }
}
