// Transactions with deferred writes (src/store/pipeline.ts): on PostgreSQL BEGIN and the deferred writes leave
// without waiting for their answers. Whatever the engine, a transaction commits all of its writes or none, and a
// failed deferred write is the error the transaction throws.
import { describe, expect, it } from 'vitest';
import { engines, PG_URL, withTestStore } from './helpers/db.ts';
import { withTransaction } from '../src/store/tx.ts';
import { statementsOn } from '../src/store/prepared.ts';
import { isUniqueViolation } from '../src/store/busy.ts';
import type { Db } from '../src/store/db.ts';

const event = (id: string) => ({
  id,
  actor: 'api',
  type: 'test.event',
  resource_type: 'test',
  resource_id: 'r',
  payload: '{}',
  created_at: '2026-12-01T00:00:00.000Z',
});

const count = async (db: Db) =>
  Number(((await db('audit_events').count({ n: '*' })) as Array<{ n: number | string }>)[0]!.n);

describe.each(engines())('transactions with deferred writes on $name', (engine) => {
  it('commit deferred writes with the transaction, and its later statements see them', async () => {
    await withTestStore(engine, async (db) => {
      const seen = await withTransaction(db, async (trx) => {
        const s = await statementsOn(trx);
        await s.insertDeferred('audit_events', event('aev_1'));
        await s.insertDeferred('audit_events', event('aev_2'));
        return (await s.one('select count(*) from audit_events', []))![0];
      });
      expect(Number(seen)).toBe(2);
      expect(await count(db)).toBe(2);
    });
  });

  it('a deferred write that fails rolls back every write of the transaction and is the error thrown', async () => {
    await withTestStore(engine, async (db) => {
      // Failing last (before COMMIT), and failing before statements that then find the transaction aborted.
      for (const after of [false, true]) {
        const err = await withTransaction(db, async (trx) => {
          const s = await statementsOn(trx);
          await s.insert('audit_events', event('aev_1'));
          await s.insertDeferred('audit_events', event('aev_1')); // the same id: a unique violation
          if (after) await s.one('select count(*) from audit_events', []);
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isUniqueViolation(err), String(err)).toBe(true);
        expect(await count(db)).toBe(0);
      }
      // The connection is fit for the next transaction.
      await withTransaction(db, async (trx) =>
        (await statementsOn(trx)).insertDeferred('audit_events', event('aev_3')),
      );
      expect(await count(db)).toBe(1);
    });
  });

  it('an error thrown by the work rolls back its deferred writes', async () => {
    await withTestStore(engine, async (db) => {
      await expect(
        withTransaction(db, async (trx) => {
          await (await statementsOn(trx)).insertDeferred('audit_events', event('aev_1'));
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect(await count(db)).toBe(0);
    });
  });
});

describe.skipIf(!PG_URL)('PostgreSQL transactions', () => {
  it('never report a commit that PostgreSQL turned into a rollback', async () => {
    await withTestStore({ name: 'postgres', url: PG_URL! }, async (db) => {
      // Work that swallows a failed statement: PostgreSQL has aborted the transaction, and its COMMIT rolls back.
      const outcome = await withTransaction(db, async (trx) => {
        const s = await statementsOn(trx);
        await s.insert('audit_events', event('aev_1'));
        await s.insert('audit_events', event('aev_1')).catch(() => undefined);
      }).then(
        () => 'committed',
        (e: unknown) => String(e),
      );
      expect(outcome).toMatch(/rolled back/);
      expect(await count(db)).toBe(0);
    });
  });

  it('BEGIN leaves with the first statement, the deferred writes with COMMIT: two writes to the socket', async () => {
    await withTestStore({ name: 'postgres', url: PG_URL! }, async (db) => {
      // Every flush of a connection's socket (net.Socket writes one buffer or several corked ones at once).
      let flushes = 0;
      const seen = new WeakSet<object>();
      const pool = (db.client as { pool: { on(e: string, fn: (id: number, conn: unknown) => void): void } }).pool;
      pool.on('acquireSuccess', (_id, conn) => {
        const stream = (conn as { connection: { stream: Record<string, unknown> } }).connection.stream;
        if (seen.has(stream)) return;
        seen.add(stream);
        for (const m of ['_write', '_writev'] as const) {
          const original = stream[m] as (...a: unknown[]) => unknown;
          stream[m] = function (this: unknown, ...a: unknown[]) {
            flushes++;
            return original.apply(this, a);
          };
        }
      });
      // What a registration sends: a look-up, the machine and its audit event (here two events).
      const run = () =>
        withTransaction(db, async (trx) => {
          const s = await statementsOn(trx);
          await s.one('select id from audit_events where id = ? limit 1', ['aev_0']);
          await s.insertDeferred('audit_events', event(`aev_${Math.random()}`));
          await s.insertDeferred('audit_events', event(`aev_${Math.random()}`));
        });
      await run(); // the first use of a connection also prepares its statements
      flushes = 0;
      await run();
      expect(flushes).toBe(2);
      expect(await count(db)).toBe(4);
    });
  });
});
