// The SQLite client under knex: cached prepared statements stay correct across schema changes and past the
// cache bound, inlined limits return the same rows as bound ones would, and the read-only handle sees the
// writer's commits and refuses writes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDb, createReadDb, openStore, type Db } from '../src/store/db.ts';
import { STATEMENT_CACHE_SIZE } from '../src/store/sqlite-client.ts';

const open: Db[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.destroy();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const track = <T extends Db | undefined>(db: T): T => {
  if (db) open.push(db);
  return db;
};

describe('SQLite client', () => {
  it('reuses statements and still sees schema changes', async () => {
    const db = track(createDb(':memory:'));
    await db.schema.createTable('t', (t) => {
      t.integer('id').primary();
      t.string('a');
    });
    await db('t').insert([
      { id: 1, a: 'x' },
      { id: 2, a: 'y' },
    ]);
    expect(await db('t').where({ id: 2 }).first()).toEqual({ id: 2, a: 'y' });
    await db.schema.alterTable('t', (t) => t.string('b').defaultTo('z'));
    // The same SQL text as before, now against a table with one more column.
    expect(await db('t').where({ id: 2 }).first()).toEqual({ id: 2, a: 'y', b: 'z' });
  });

  it('keeps working past the statement cache bound', async () => {
    const db = track(createDb(':memory:'));
    await db.schema.createTable('t', (t) => t.integer('id').primary());
    await db('t').insert(Array.from({ length: 20 }, (_, i) => ({ id: i })));
    for (let i = 0; i < STATEMENT_CACHE_SIZE + 50; i++) {
      const rows = await db('t')
        .select(db.raw(`id + ${i} as v`))
        .where('id', '<', 3)
        .orderBy('id');
      expect(rows.map((r: { v: number }) => r.v)).toEqual([i, i + 1, i + 2]);
    }
    // The first statements were evicted; running them again prepares them anew.
    expect(
      (await db('t').select(db.raw('id + 0 as v')).where('id', '<', 3).orderBy('id')).map((r: { v: number }) => r.v),
    ).toEqual([0, 1, 2]);
  });

  it('inlines limits with the same result as the bound form, for every page size', async () => {
    const db = track(createDb(':memory:'));
    await db.schema.createTable('t', (t) => t.integer('id').primary());
    await db('t').insert(Array.from({ length: 30 }, (_, i) => ({ id: i })));
    for (const n of [0, 1, 7, 30, 31]) {
      const rows = await db('t').orderBy('id').limit(n);
      expect(rows.map((r: { id: number }) => r.id)).toEqual([...Array(Math.min(n, 30)).keys()]);
    }
    // limit with offset keeps its bindings.
    expect((await db('t').orderBy('id').limit(3).offset(10)).map((r: { id: number }) => r.id)).toEqual([10, 11, 12]);
    // A limit written in raw SQL with a bound parameter is inlined too and means the same.
    expect((await db.raw('select id from t order by id limit ?', [2])).map((r: { id: number }) => r.id)).toEqual([
      0, 1,
    ]);
  });

  it('gives a read-only handle on a file that sees each commit and refuses writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peaqos-sqlite-'));
    dirs.push(dir);
    const file = join(dir, 'store.sqlite');
    const db = track(await openStore(file));
    const reader = track(createReadDb(file))!;
    expect(reader).toBeDefined();
    await db('audit_events').insert({
      id: 'aev_1',
      actor: 'api',
      type: 't',
      resource_type: 'r',
      resource_id: 'x',
      payload: '{}',
      created_at: '2026-01-01T00:00:00.000Z',
    });
    expect(await reader('audit_events').where({ id: 'aev_1' }).first()).toMatchObject({ id: 'aev_1' });
    await db('audit_events').where({ id: 'aev_1' }).update({ actor: 'system' });
    expect((await reader('audit_events').where({ id: 'aev_1' }).first()).actor).toBe('system');
    await expect(
      reader('audit_events').insert({
        id: 'aev_2',
        actor: 'api',
        type: 't',
        resource_type: 'r',
        resource_id: 'x',
        payload: '{}',
        created_at: '2026-01-01T00:00:00.000Z',
      }),
    ).rejects.toThrow(/readonly/i);
    expect(createReadDb(':memory:')).toBeUndefined();
    expect(createReadDb('postgres://u@127.0.0.1/db')).toBeUndefined();
  });
});
