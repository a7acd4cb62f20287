// Hot reads below knex's query builder. A read through knex builds a query object, compiles it to SQL, takes a
// connection from the pool and runs the statement through a chain of promises: on GET /machines/{id} that cost
// several times the statement itself (bench/RESULTS.md). The reads on the hottest paths are fixed SQL texts run
// here instead, with the same rows as knex would return:
// - SQLite file: on the read-only handle's one connection (createReadDb), as a cached prepared statement, run
//   synchronously. Before that connection exists, when the statement finds the database busy, and for an
//   in-memory database (no read-only handle), the read goes through knex as before.
// - PostgreSQL: a named prepared statement on a connection from knex's pool (prepared once per connection).
// The SQL is written once for both engines: plain lower-case identifiers and `?` placeholders. Rows come back as
// arrays of values in the select list's order (better-sqlite3's raw mode, pg's array row mode): building an object
// per row in the driver cost about as much again as the statement (named properties set one by one from C++).
import type { Knex } from 'knex';
import type { Db } from './db.ts';
import { readConnectionOf } from './db.ts';
import { inlineLimit, prepared, type Connection, type Statement } from './sqlite-client.ts';
import { isSqliteBusy } from './busy.ts';

/** A row as the values of the select list, in its order. */
export type Values = unknown[];

export interface PreparedReads {
  /** The first row of `sql`, or undefined. */
  one(sql: string, params: readonly unknown[]): Promise<Values | undefined>;
  /** Every row of `sql`. */
  all(sql: string, params: readonly unknown[]): Promise<Values[]>;
}

interface PgConnection {
  query(q: { name: string; text: string; values: readonly unknown[]; rowMode: 'array' }): Promise<{ rows: Values[] }>;
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

/** Named statements by SQL text, process-wide: a name always means the same text on every connection. */
const pgStatements = new Map<string, { name: string; text: string }>();

function pgStatement(sql: string): { name: string; text: string } {
  let s = pgStatements.get(sql);
  if (!s) {
    let n = 0;
    s = { name: `peaqos_read_${pgStatements.size}`, text: sql.replace(/\?/g, () => `$${++n}`) };
    pgStatements.set(sql, s);
  }
  return s;
}

/** Reads on `db` (the read-only handle where there is one: createReadDb's, else the main one). */
export function preparedReads(db: Db): PreparedReads {
  if (db.client.config.client === 'pg') {
    const rows = async (sql: string, params: readonly unknown[]): Promise<Values[]> => {
      const conn = (await db.client.acquireConnection()) as PgConnection;
      try {
        return (await conn.query({ ...pgStatement(sql), values: params, rowMode: 'array' })).rows;
      } finally {
        await db.client.releaseConnection(conn);
      }
    };
    return {
      one: async (sql, params) => (await rows(sql, params))[0],
      all: rows,
    };
  }
  // knex gives objects, their keys in the select list's order.
  const viaKnex = async (sql: string, params: readonly unknown[]): Promise<Values[]> =>
    ((await db.raw(sql, params as readonly Knex.RawBinding[])) as Record<string, unknown>[]).map((r) =>
      Object.values(r),
    );
  return {
    one(sql, params) {
      const conn = readConnectionOf(db);
      if (conn) {
        try {
          const [text, bindings] = inlineLimit(sql, params as unknown[]);
          return Promise.resolve(rawStatement(conn, text).get(bindings) as Values | undefined);
        } catch (err) {
          if (!isSqliteBusy(err)) return Promise.reject(err as Error);
        }
      }
      return viaKnex(sql, params).then((r) => r[0]);
    },
    all(sql, params) {
      const conn = readConnectionOf(db);
      if (conn) {
        try {
          const [text, bindings] = inlineLimit(sql, params as unknown[]);
          return Promise.resolve(rawStatement(conn, text).all(bindings) as Values[]);
        } catch (err) {
          if (!isSqliteBusy(err)) return Promise.reject(err as Error);
        }
      }
      return viaKnex(sql, params);
    },
  };
}

/** Statements on a transaction's own connection (the hot writes), inside knex's transaction and below its builder. */
export interface TxStatements {
  /** Runs a write. */
  run(sql: string, params: readonly unknown[]): Promise<void>;
  /** The first row of a read, as values. */
  one(sql: string, params: readonly unknown[]): Promise<Values | undefined>;
  /** Inserts `row` (its keys are the columns: code's names, never input). */
  insert(table: string, row: Record<string, unknown>): Promise<void>;
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

// knex treats an undefined value as "no value"; a fixed statement binds it as NULL.
const bindable = (params: readonly unknown[]) => params.map((p) => (p === undefined ? null : p));

/**
 * The statements of `trx`: knex's transaction client hands out the transaction's connection, so these run in the
 * same transaction (committed or rolled back with it) without building, compiling and dispatching each query.
 */
export async function txStatements(trx: Knex.Transaction): Promise<TxStatements> {
  const conn = (await trx.client.acquireConnection()) as unknown;
  const insert = (run: TxStatements['run']) => (table: string, row: Record<string, unknown>) =>
    run(insertSql(table, Object.keys(row)), Object.values(row));
  if (trx.client.config.client === 'pg') {
    const pg = conn as PgConnection;
    const run: TxStatements['run'] = async (sql, params) => {
      await pg.query({ ...pgStatement(sql), values: bindable(params), rowMode: 'array' });
    };
    return {
      forUpdate: ' for update',
      insert: insert(run),
      run,
      one: async (sql, params) =>
        (await pg.query({ ...pgStatement(sql), values: bindable(params), rowMode: 'array' })).rows[0],
    };
  }
  const sqlite = conn as Connection;
  const run: TxStatements['run'] = (sql, params) => {
    try {
      prepared(sqlite, sql).run(bindable(params));
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
  return {
    forUpdate: '',
    insert: insert(run),
    run,
    one: (sql, params) => {
      try {
        return Promise.resolve(rawStatement(sqlite, sql).get(bindable(params)) as Values | undefined);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
  };
}

/**
 * Inserts `row` (its keys are the columns): inside a transaction as a prepared statement on its connection,
 * otherwise through knex.
 */
export async function insertRow(
  db: Knex | Knex.Transaction,
  table: string,
  row: Record<string, unknown>,
): Promise<void> {
  if ((db as Knex.Transaction).isTransaction) await (await txStatements(db as Knex.Transaction)).insert(table, row);
  else await db(table).insert(row);
}
