// Knex's better-sqlite3 client prepares every statement anew on every query: about 13 µs for a one-row select by
// primary key, several times the cost of running it. This client keeps each connection's prepared statements by
// SQL text (bounded, oldest dropped first) and is otherwise knex's own. SQLite re-prepares a cached statement by
// itself when the schema changes, so a cached statement never runs against a stale schema.
//
// Writing transactions start with BEGIN IMMEDIATE: the transaction takes the database's write lock before its
// first read, so a read-modify-write inside it cannot interleave with another process's (with a plain BEGIN the
// second writer's lock upgrade fails at once with SQLITE_BUSY, whatever the busy timeout). When another process
// holds the lock, a statement that got SQLITE_BUSY did nothing, so it is retried here, asynchronously with
// backoff, until `busyTimeoutMs` has passed; the event loop keeps serving meanwhile. Past it: StoreBusyError.
//
// It also writes a trailing `limit ?` (knex's .first() and page sizes) as a literal: SQLite runs a one-row select
// by primary key about twice as fast with `limit 1` as with a bound limit. Only a non-negative safe integer is
// inlined, so the SQL text stays a fixed shape per page size.
import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import { StoreBusyError, isSqliteBusy, sleep } from './busy.ts';
import { emit } from '../observe.ts';

const require = createRequire(import.meta.url);
// knex ships its dialects as CommonJS classes without type declarations.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- knex ships its dialects as untyped CommonJS classes
const KnexBetterSqlite3 = require('knex/lib/dialects/better-sqlite3/index.js') as new (config: Knex.Config) => any;

export interface Statement {
  reader: boolean;
  raw(on: boolean): Statement;
  get(bindings: unknown[]): unknown;
  all(bindings: unknown[]): unknown[];
  run(bindings: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}
export interface Connection {
  prepare(sql: string): Statement;
}
interface QueryObject {
  sql?: string;
  bindings?: unknown[];
  options?: Record<string, unknown>;
  response?: unknown;
  context?: unknown;
}

export const STATEMENT_CACHE_SIZE = 256;
const caches = new WeakMap<Connection, Map<string, Statement>>();

/** The connection's prepared statement for `sql`, prepared on first use and cached (shared with knex's queries). */
export function prepared(connection: Connection, sql: string): Statement {
  let cache = caches.get(connection);
  if (!cache) caches.set(connection, (cache = new Map()));
  let statement = cache.get(sql);
  if (statement) return statement;
  statement = connection.prepare(sql);
  if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(sql, statement);
  return statement;
}

/** A trailing `limit ?` bound to a non-negative safe integer, written into the SQL text instead (see above). */
export function inlineLimit(sql: string, bindings: unknown[]): [string, unknown[]] {
  const last = bindings[bindings.length - 1];
  if (sql.endsWith(' limit ?') && Number.isSafeInteger(last) && (last as number) >= 0)
    return [`${sql.slice(0, -1)}${last as number}`, bindings.slice(0, -1)];
  return [sql, bindings];
}

/** How long a statement waits for another process's write lock before StoreBusyError (PEAQOS_STORE_BUSY_TIMEOUT_MS). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

export class CachingBetterSqlite3Client extends KnexBetterSqlite3 {
  async _query(connection: Connection, obj: QueryObject): Promise<QueryObject> {
    if (!obj.sql) throw new Error('The query is empty');
    if (!connection) throw new Error('No connection provided');
    if (obj.sql === 'BEGIN;') obj.sql = 'BEGIN IMMEDIATE;';
    try {
      return this.runStatement(connection, obj as QueryObject & { sql: string });
    } catch (err) {
      if (!isSqliteBusy(err)) throw err;
    }
    const budget =
      (this as unknown as { config: { busyTimeoutMs?: number } }).config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const started = Date.now();
    const deadline = started + budget;
    const client = this as unknown as Knex.Client;
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      await sleep(wait + Math.random() * wait);
      try {
        const out = this.runStatement(connection, obj as QueryObject & { sql: string });
        emit({ kind: 'busy', client, waitedMs: Date.now() - started, gaveUp: false });
        return out;
      } catch (err) {
        if (!isSqliteBusy(err)) throw err;
        if (Date.now() >= deadline) {
          emit({ kind: 'busy', client, waitedMs: Date.now() - started, gaveUp: true });
          throw new StoreBusyError(`The SQLite database stayed locked by another process for ${budget} ms.`);
        }
      }
    }
  }

  runStatement(connection: Connection, obj: QueryObject & { sql: string }): QueryObject {
    // Per-query integer modes change a statement's state: those queries get a statement of their own.
    if (obj.options && typeof obj.options.safeIntegers === 'boolean')
      throw new Error('per-query safeIntegers is not supported by this client');
    const [sql, bindings] = inlineLimit(obj.sql, this._formatBindings(obj.bindings));
    const statement = prepared(connection, sql);
    if (statement.reader) {
      obj.response = statement.all(bindings);
      return obj;
    }
    const response = statement.run(bindings);
    obj.response = response;
    obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return obj;
  }
}
