// The hot paths below knex's query builder. A query through knex builds a query object, compiles it to SQL, takes a
// connection from the pool and runs the statement through a chain of promises: on GET /machines/{id} that cost
// several times the statement itself (bench/RESULTS.md). The hottest statements are fixed SQL run here instead,
// with the same rows as knex would return:
// - preparedReads, reads outside transactions. SQLite file: on the read-only handle's one connection
//   (createReadDb), as a cached prepared statement, run synchronously and answered as values (no promise); before
//   that connection exists, when the statement finds the database busy, and for an in-memory database (no
//   read-only handle), through knex.
//   PostgreSQL: a named prepared statement on a connection from knex's pool (prepared once per connection).
// - statementsOn, a transaction's statements: prepared on the transaction's own connection; outside a
//   transaction, through knex. On PostgreSQL a transaction's writes that nothing waits for (insertDeferred) are
//   sent without waiting for their answers and leave with the next statement (pipeline.ts).
// The SQL is written once for both engines: plain lower-case identifiers and `?` placeholders. Rows come back as
// arrays of values in the select list's order (better-sqlite3's raw mode, pg's array row mode): building an object
// per row in the driver cost about as much again as the statement (named properties set one by one from C++).
import type { Knex } from 'knex';
import type { Awaitable } from '../awaitable.ts';
import type { Db } from './db.ts';
import { readConnectionOf } from './db.ts';
import { inlineLimit, prepared, type Connection, type Statement } from './sqlite-client.ts';
import { isSqliteBusy } from './busy.ts';
import { batch, inPipelinedTransaction, sendDeferred, type PgClient } from './pipeline.ts';

/** A row as the values of the select list, in its order. */
export type Values = unknown[];

/**
 * Reads outside transactions. On SQLite's read-only connection the rows come back now, as values; everywhere else
 * as a promise (awaitable.ts). A failed read is always a rejected promise, never a throw.
 */
export interface PreparedReads {
  /** The first row of `sql`, or undefined. */
  one(sql: string, params: readonly unknown[]): Awaitable<Values | undefined>;
  /** Every row of `sql`. */
  all(sql: string, params: readonly unknown[]): Awaitable<Values[]>;
}

/** Raw-mode statements, per connection and SQL text (apart from knex's cache: raw mode is a statement's state). */
const rawStatements = new WeakMap<Connection, Map<string, Statement>>();

function rawStatement(conn: Connection, sql: string): Statement {
  let cache = rawStatements.get(conn);
  if (!cache) rawStatements.set(conn, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) {
    statement = conn.prepare(sql).raw(true);
    cache.set(sql, statement);
  }
  return statement;
}

// knex treats an undefined value as "no value"; a fixed statement binds it as NULL.
const bindable = (params: readonly unknown[]) => params.map((p) => (p === undefined ? null : p));

/** Named statements by SQL text, process-wide: a name always means the same text on every connection. */
const pgStatements = new Map<string, { name: string; text: string }>();

function pgStatement(sql: string): { name: string; text: string } {
  let s = pgStatements.get(sql);
  if (!s) {
    let n = 0;
    s = { name: `peaqos_${pgStatements.size}`, text: sql.replace(/\?/g, () => `$${++n}`) };
    pgStatements.set(sql, s);
  }
  return s;
}

/** `sql` as a named statement in array row mode. */
function pgQuery(sql: string, params: readonly unknown[]) {
  const s = pgStatement(sql);
  return { name: s.name, text: s.text, values: bindable(params), rowMode: 'array' as const };
}

/** The rows of `sql` on a pg connection. */
async function pgRows(conn: PgClient, sql: string, params: readonly unknown[]): Promise<Values[]> {
  return (await conn.query(pgQuery(sql, params))).rows as Values[];
}

/** Fixed SQL on a handle or a transaction (statementsOn). */
export interface Statements {
  /** Runs a write. */
  run(sql: string, params: readonly unknown[]): Promise<void>;
  /** The first row of a read, as values. */
  one(sql: string, params: readonly unknown[]): Promise<Values | undefined>;
  /** Every row of a read. */
  all(sql: string, params: readonly unknown[]): Promise<Values[]>;
  /** Inserts `row` (its keys are the columns: code's names, never input). */
  insert(table: string, row: Record<string, unknown>): Promise<void>;
  /**
   * Inserts `row` as part of the transaction without waiting for the database's answer, for writes that nothing
   * in the transaction reads back or catches an error of (an audit event; a new machine, whose unique violation
   * the caller of the transaction maps). In a PostgreSQL transaction it leaves with the next statement, usually
   * COMMIT, and its error is the one the transaction throws (pipeline.ts); elsewhere it is `insert`.
   */
  insertDeferred(table: string, row: Record<string, unknown>): Promise<void>;
  /** `for update` on PostgreSQL, nothing on SQLite (its transactions hold the database's write lock). */
  readonly forUpdate: string;
}

/** The insert statement for a table and a row's keys, built once per shape. */
const inserts = new Map<string, string>();
function insertSql(table: string, columns: string[]): string {
  const key = `${table}(${columns.join(',')})`;
  let sql = inserts.get(key);
  if (!sql) {
    sql = `insert into ${table} (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`;
    inserts.set(key, sql);
  }
  return sql;
}

/** Statements from an engine's `all` and `run`: the first row and the insert are the same everywhere. */
function statements(
  forUpdate: string,
  all: Statements['all'],
  run: Statements['run'],
  one: Statements['one'] = (sql, params) => all(sql, params).then((rows) => rows[0]),
  runDeferred: Statements['run'] = run,
): Statements {
  return {
    forUpdate,
    run,
    one,
    all,
    insert: (table, row) => run(insertSql(table, Object.keys(row)), Object.values(row)),
    insertDeferred: (table, row) => runDeferred(insertSql(table, Object.keys(row)), Object.values(row)),
  };
}

/** Statements through knex (db.raw), which takes a connection from the pool for each: outside transactions. */
function viaKnex(db: Knex): Statements {
  const pg = db.client.config.client === 'pg';
  const all = async (sql: string, params: readonly unknown[]): Promise<Values[]> => {
    const out = (await db.raw(sql, bindable(params) as Knex.RawBinding[])) as
      Record<string, unknown>[] | { rows: Record<string, unknown>[] };
    // knex gives objects, their keys in the select list's order.
    return (pg ? (out as { rows: Record<string, unknown>[] }).rows : (out as Record<string, unknown>[])).map((r) =>
      Object.values(r),
    );
  };
  const run = async (sql: string, params: readonly unknown[]) =>
    void (await db.raw(sql, bindable(params) as Knex.RawBinding[]));
  return statements('', all, run);
}

/** Runs `fn` on SQLite, turning a throw into a rejection. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** Reads on `db` (the read-only handle where there is one: createReadDb's, else the main one). */
export function preparedReads(db: Db): PreparedReads {
  if (db.client.config.client === 'pg') {
    // The connection goes back to the pool as soon as the statement settles (knex's release needs no await).
    const all = async (sql: string, params: readonly unknown[]): Promise<Values[]> => {
      const conn = (await db.client.acquireConnection()) as PgClient;
      try {
        return await pgRows(conn, sql, params);
      } finally {
        void db.client.releaseConnection(conn);
      }
    };
    return { one: (sql, params) => all(sql, params).then((rows) => rows[0]), all };
  }
  const knex = viaKnex(db);
  /** On the read-only connection when it is open and the database not busy; through knex otherwise. */
  const read = <T>(
    sql: string,
    params: readonly unknown[],
    get: (s: Statement, b: unknown[]) => T,
    fallback: () => Promise<T>,
  ): Awaitable<T> => {
    const conn = readConnectionOf(db);
    if (conn) {
      try {
        const [text, bindings] = inlineLimit(sql, params as unknown[]);
        return get(rawStatement(conn, text), bindings);
      } catch (err) {
        if (!isSqliteBusy(err)) return Promise.reject(err as Error);
      }
    }
    return fallback();
  };
  return {
    one: (sql, params) =>
      read(
        sql,
        params,
        (s, b) => s.get(b) as Values | undefined,
        () => knex.one(sql, params),
      ),
    all: (sql, params) =>
      read(
        sql,
        params,
        (s, b) => s.all(b) as Values[],
        () => knex.all(sql, params),
      ),
  };
}

/**
 * The statements of `db`. In a transaction they run on the transaction's own connection (knex's transaction client
 * hands it out), prepared, without building, compiling and dispatching each query, and commit or roll back with
 * it. Outside one they go through knex, which takes a pooled connection for each.
 */
export async function statementsOn(db: Knex | Knex.Transaction): Promise<Statements> {
  if (!(db as Knex.Transaction).isTransaction) return viaKnex(db);
  const conn = (await db.client.acquireConnection()) as unknown;
  if (db.client.config.client === 'pg') {
    const pg = conn as PgClient;
    const pipelined = inPipelinedTransaction(pg);
    const all = (sql: string, params: readonly unknown[]) => {
      if (pipelined) batch(pg); // the statements sent in one tick leave in one write (pipeline.ts)
      return pgRows(pg, sql, params);
    };
    const run = async (sql: string, params: readonly unknown[]) => void (await all(sql, params));
    const deferred = pipelined
      ? (sql: string, params: readonly unknown[]) => Promise.resolve(sendDeferred(pg, pgQuery(sql, params)))
      : run;
    return statements(' for update', all, run, undefined, deferred);
  }
  const sqlite = conn as Connection;
  return statements(
    '',
    (sql, params) => settle(() => rawStatement(sqlite, sql).all(bindable(params)) as Values[]),
    (sql, params) => settle(() => void prepared(sqlite, sql).run(bindable(params))),
    (sql, params) => settle(() => rawStatement(sqlite, sql).get(bindable(params)) as Values | undefined),
  );
}
