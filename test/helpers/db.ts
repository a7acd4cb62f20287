// Test stores: in-memory SQLite always; PostgreSQL too when PEAQOS_TEST_DATABASE_URL is set (each run in its
// own schema, dropped afterwards).
import { randomBytes } from 'node:crypto';
import { openStore, type Db } from '../../src/store/db.ts';

export interface Engine {
  name: 'sqlite' | 'postgres';
  url: string;
}

export const PG_URL = process.env.PEAQOS_TEST_DATABASE_URL;

export function engines(): Engine[] {
  return [{ name: 'sqlite', url: ':memory:' }, ...(PG_URL ? [{ name: 'postgres' as const, url: PG_URL }] : [])];
}

export const PG_SKIP_REASON =
  'PEAQOS_TEST_DATABASE_URL is not set: PostgreSQL store and integration tests are skipped (SQLite only).';

export async function openTestStore(engine: Engine): Promise<{ db: Db; drop(): Promise<void> }> {
  if (engine.name === 'sqlite') {
    const db = await openStore(engine.url);
    return { db, drop: () => db.destroy() };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const db = await openStore(engine.url, { schema });
  return {
    db,
    drop: async () => {
      await db.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.destroy();
    },
  };
}

/** Runs `fn` on a fresh test store of `engine`, dropped afterwards whatever happens. */
export async function withTestStore(engine: Engine, fn: (db: Db) => Promise<void>): Promise<void> {
  const { db, drop } = await openTestStore(engine);
  try {
    await fn(db);
  } finally {
    await drop();
  }
}
