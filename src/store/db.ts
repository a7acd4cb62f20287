// Knex store: SQLite (better-sqlite3) by default, PostgreSQL when the URL is postgres://. Migrations run at start-up.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations/index.ts';
import { CachingBetterSqlite3Client } from './sqlite-client.ts';

export type Db = Knex;

export interface DbOptions {
  /** PostgreSQL only: run inside this schema (created if missing). Tests use it to isolate runs. */
  schema?: string;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function createDb(url: string, opts: DbOptions = {}): Db {
  if (isPostgresUrl(url)) {
    return knexFactory({
      client: 'pg',
      connection: url,
      searchPath: opts.schema ? [opts.schema] : undefined,
      pool: {
        min: 0,
        max: 10,
        afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) => {
          if (!opts.schema) return done(null, conn);
          conn.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`, (err) => done(err, conn));
        },
      },
    });
  }
  const filename = sqliteFilename(url);
  const memory = filename === ':memory:';
  if (!memory) mkdirSync(dirname(resolve(filename)), { recursive: true });
  // One connection: SQLite serialises writers anyway, and a single connection makes every transaction
  // (spend-limit checks included) strictly sequential, so no busy errors and no lost updates.
  return sqliteKnex(filename, false, ['foreign_keys = ON', ...(memory ? [] : ['journal_mode = WAL']), 'busy_timeout = 5000']);
}

const sqliteFilename = (url: string) => url.replace(/^sqlite:(\/\/)?/, '');

/** better-sqlite3's connection, as far as set-up needs it. */
interface SqliteConnection {
  pragma(source: string): unknown;
}

/** A knex handle on one better-sqlite3 connection (with cached statements), set up with `pragmas`. */
function sqliteKnex(filename: string, readonly: boolean, pragmas: string[]): Db {
  return knexFactory({
    client: CachingBetterSqlite3Client as unknown as Knex.Config['client'],
    connection: { filename, ...(readonly ? { options: { readonly: true } } : {}) },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) => {
        try {
          for (const p of pragmas) conn.pragma(p);
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
}

/**
 * A read-only handle for SQLite files. better-sqlite3 runs statements synchronously, so one read connection is
 * as fast as several; it exists so that reads outside transactions never queue behind the writer connection
 * while a transaction is open (WAL lets a reader see the last commit meanwhile). PostgreSQL and in-memory
 * SQLite use the main handle for reads.
 */
export function createReadDb(url: string): Db | undefined {
  if (isPostgresUrl(url)) return undefined;
  const filename = sqliteFilename(url);
  if (filename === ':memory:') return undefined;
  return sqliteKnex(filename, true, ['busy_timeout = 5000']);
}

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

export async function openStore(url: string, opts: DbOptions = {}): Promise<Db> {
  const db = createDb(url, opts);
  if (opts.schema && isPostgresUrl(url)) await db.raw(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`);
  await migrate(db);
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
