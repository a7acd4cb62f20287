// Hot reads below knex's query builder. A read through knex builds a query object, compiles it to SQL, takes a
// connection from the pool and runs the statement through a chain of promises: on GET /machines/{id} that cost
// several times the statement itself (bench/RESULTS.md). The reads on the hottest paths are fixed SQL texts run
// here instead, with the same rows as knex would return:
// - SQLite file: on the read-only handle's one connection (createReadDb), as a cached prepared statement, run
//   synchronously. Before that connection exists, when the statement finds the database busy, and for an
//   in-memory database (no read-only handle), the read goes through knex as before.
// - PostgreSQL: a named prepared statement on a connection from knex's pool (prepared once per connection).
// The SQL is written once for both engines: plain lower-case identifiers and `?` placeholders.
import type { Knex } from 'knex';
import type { Db } from './db.ts';
import { readConnectionOf } from './db.ts';
import { inlineLimit, prepared } from './sqlite-client.ts';
import { isSqliteBusy } from './busy.ts';

export interface PreparedReads {
  /** The first row of `sql`, or undefined. */
  one<T>(sql: string, params: readonly unknown[]): Promise<T | undefined>;
  /** Every row of `sql`. */
  all<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
}

interface PgConnection {
  query(q: { name: string; text: string; values: readonly unknown[] }): Promise<{ rows: unknown[] }>;
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
    const rows = async (sql: string, params: readonly unknown[]): Promise<unknown[]> => {
      const conn = (await db.client.acquireConnection()) as PgConnection;
      try {
        return (await conn.query({ ...pgStatement(sql), values: params })).rows;
      } finally {
        await db.client.releaseConnection(conn);
      }
    };
    return {
      one: async <T>(sql: string, params: readonly unknown[]) => (await rows(sql, params))[0] as T | undefined,
      all: async <T>(sql: string, params: readonly unknown[]) => (await rows(sql, params)) as T[],
    };
  }
  const viaKnex = async (sql: string, params: readonly unknown[]) =>
    (await db.raw(sql, params as readonly Knex.RawBinding[])) as unknown[];
  return {
    one<T>(sql: string, params: readonly unknown[]): Promise<T | undefined> {
      const conn = readConnectionOf(db);
      if (conn) {
        try {
          const [text, bindings] = inlineLimit(sql, params as unknown[]);
          return Promise.resolve(prepared(conn, text).get(bindings) as T | undefined);
        } catch (err) {
          if (!isSqliteBusy(err)) return Promise.reject(err as Error);
        }
      }
      return viaKnex(sql, params).then((r) => r[0] as T | undefined);
    },
    all<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
      const conn = readConnectionOf(db);
      if (conn) {
        try {
          const [text, bindings] = inlineLimit(sql, params as unknown[]);
          return Promise.resolve(prepared(conn, text).all(bindings) as T[]);
        } catch (err) {
          if (!isSqliteBusy(err)) return Promise.reject(err as Error);
        }
      }
      return viaKnex(sql, params) as Promise<T[]>;
    },
  };
}
