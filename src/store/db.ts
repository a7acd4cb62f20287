// Knex store: SQLite (better-sqlite3) by default, PostgreSQL when the URL is postgres://. Migrations run at start-up.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations/index.ts';
import { CachingBetterSqlite3Client, type Connection } from './sqlite-client.ts';

export type Db = Knex;

export interface DbOptions {
  /** PostgreSQL only: run inside this schema (created if missing). Tests use it to isolate runs. */
  schema?: string;
  /** SQLite only: how long a statement waits for another process's write lock (PEAQOS_STORE_BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function createDb(url: string, opts: DbOptions = {}): Db {
  if (isPostgresUrl(url)) {
    return knexFactory({
      client: 'pg',
      // Pipeline mode: a transaction sends BEGIN and its deferred writes without waiting for their answers
      // (pipeline.ts). Statements that are awaited one by one run exactly as without it.
      // (pg's option; knex's types do not list it.)
      connection: { connectionString: url, pipeline: true } as Knex.PgConnectionConfig,
      // Error messages carry the statement with placeholders, never the bound values (tokens, keys, secrets).
      compileSqlOnError: false,
      searchPath: opts.schema ? [opts.schema] : undefined,
      pool: {
        min: 0,
        max: 10,
        afterCreate: (
          conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
          done: (err: Error | null, conn: unknown) => void,
        ) => {
          if (!opts.schema) return done(null, conn);
          conn.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`, (err) => done(err, conn));
        },
      },
    });
  }
  const filename = sqliteFilename(url);
  const memory = filename === ':memory:';
  if (!memory) mkdirSync(dirname(resolve(filename)), { recursive: true });
  // One connection: SQLite serialises writers anyway, and a single connection makes this process's transactions
  // strictly sequential. Other processes on the same file are kept out by BEGIN IMMEDIATE; the client waits for
  // their lock asynchronously (sqlite-client.ts), so SQLite's own blocking busy wait is off.
  return sqliteKnex(
    filename,
    false,
    ['foreign_keys = ON', ...(memory ? [] : ['journal_mode = WAL']), 'busy_timeout = 0'],
    opts.busyTimeoutMs,
  );
}

const sqliteFilename = (url: string) => url.replace(/^sqlite:(\/\/)?/, '');

/** better-sqlite3's connection, as far as set-up needs it. */
interface SqliteConnection {
  pragma(source: string): unknown;
}

/** A read-only handle's one connection, once its pool has made it (see readConnectionOf). */
const readConnections = new WeakMap<Db, { conn?: Connection }>();

/**
 * The better-sqlite3 connection behind a read-only handle from createReadDb, if it has been opened; undefined for
 * any other handle. Its pool holds exactly this one connection for the handle's life, never in a transaction, and
 * better-sqlite3 runs each statement to completion synchronously, so a statement run on it directly cannot
 * interleave with knex's use of it (store/prepared.ts reads through it).
 */
export function readConnectionOf(db: Db): Connection | undefined {
  const conn = readConnections.get(db)?.conn;
  // A connection the pool has closed (the handle destroyed) is not handed out.
  return conn && (conn as { open?: boolean }).open !== false ? conn : undefined;
}

/** A knex handle on one better-sqlite3 connection (with cached statements), set up with `pragmas`. */
function sqliteKnex(filename: string, readonly: boolean, pragmas: string[], busyTimeoutMs?: number): Db {
  const holder: { conn?: Connection } = {};
  const db = knexFactory({
    client: CachingBetterSqlite3Client as unknown as Knex.Config['client'],
    // Error messages carry the statement with placeholders, never the bound values (tokens, keys, secrets).
    compileSqlOnError: false,
    ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
    connection: { filename, ...(readonly ? { options: { readonly: true } } : {}) },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        try {
          for (const p of pragmas) conn.pragma(p);
          if (readonly) holder.conn = conn as unknown as Connection;
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
  if (readonly) readConnections.set(db, holder);
  return db;
}

/**
 * A read-only handle for SQLite files. better-sqlite3 runs statements synchronously, so one read connection is
 * as fast as several; it exists so that reads outside transactions never queue behind the writer connection
 * while a transaction is open (WAL lets a reader see the last commit meanwhile). PostgreSQL and in-memory
 * SQLite use the main handle for reads.
 */
export function createReadDb(url: string, opts: DbOptions = {}): Db | undefined {
  if (isPostgresUrl(url)) return undefined;
  const filename = sqliteFilename(url);
  if (filename === ':memory:') return undefined;
  return sqliteKnex(filename, true, ['busy_timeout = 0'], opts.busyTimeoutMs);
}

/** Advisory-lock key for migrations (any constant; 0x7065617160736d67, "peaq`smg" in ASCII). */
const MIGRATION_LOCK_KEY = '8098986644473081191';

/**
 * Runs the migrations. Replicas starting together must not race on them: on PostgreSQL the run holds a
 * session advisory lock (the others wait, then find nothing to do); on a SQLite file shared by processes,
 * knex's own migration lock makes a concurrent run fail fast, so it is retried until the other one finished.
 */
export async function migrate(db: Db, opts: DbOptions = {}): Promise<void> {
  if (db.client.config.client === 'pg') {
    const conn = await db.client.acquireConnection();
    try {
      await db.raw(`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`).connection(conn);
      try {
        if (opts.schema) await db.raw(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`).connection(conn);
        await db.migrate.latest({ migrationSource });
      } finally {
        await db.raw(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`).connection(conn);
      }
    } finally {
      await db.client.releaseConnection(conn);
    }
    return;
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await db.migrate.latest({ migrationSource });
      return;
    } catch (err) {
      const locked =
        (err as Error).name === 'MigrationLocked' || /already locked|already exists/i.test((err as Error).message);
      if (!locked || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function openStore(url: string, opts: DbOptions = {}): Promise<Db> {
  const db = createDb(url, opts);
  await migrate(db, opts);
  return db;
}

/** JSON columns are stored as text on both engines so that reads are identical. */
export const toJson = (v: unknown): string => JSON.stringify(v ?? null);
export function fromJson<T>(v: unknown, fallback: T): T {
  if (v === null || v === undefined) return fallback;
  if (typeof v !== 'string') return v as T;
  try {
    return JSON.parse(v) as T;
  } catch {
    return fallback;
  }
}
