// The limit on PostgreSQL: node:http and `pg` doing the server's reads and writes with nothing else on the path
// (limit-core.ts): a pool of 10 connections (the server's knex pool size), named prepared statements, and each
// write's statements in one transaction, with the rows the server locks locked (select ... for update).
import { createRequire } from 'node:module';
import { MONEY_COMMITTED } from '../../src/modules/orders/state.ts';
import { serveLimit, type AuditRow, type Row } from './limit-core.ts';

interface Client {
  query(q: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: Row[] }>;
  release(): void;
}
interface Pool {
  query(q: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: Row[] }>;
  connect(): Promise<Client>;
}
// pg ships without type declarations here; the two calls used are typed above.
const { Pool } = createRequire(import.meta.url)('pg') as { Pool: new (o: object) => Pool };
const pool = new Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: 10 });

const insertSql = (table: string, row: Row) =>
  `insert into ${table} (${Object.keys(row).join(', ')}) values (${Object.keys(row)
    .map((_, i) => `$${i + 1}`)
    .join(', ')})`;
const insertRow = (c: Client, table: string, row: Row) =>
  c.query({ name: `limit_insert_${table}`, text: insertSql(table, row), values: Object.values(row) });

async function tx<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query({ text: 'BEGIN' });
    const out = await fn(c);
    await c.query({ text: 'COMMIT' });
    return out;
  } catch (err) {
    await c.query({ text: 'ROLLBACK' });
    throw err;
  } finally {
    c.release();
  }
}

serveLimit({
  machine: async (id) =>
    (await pool.query({ name: 'limit_machine', text: 'select * from machines where id = $1', values: [id] })).rows[0],
  firstPage: async (limit) =>
    (
      await pool.query({
        name: 'limit_first_page',
        text: 'select * from machines order by created_at, id limit $1',
        values: [limit],
      })
    ).rows,
  createMachine: (row, identityRef, audit: AuditRow) =>
    tx(async (c) => {
      const taken = await c.query({
        name: 'limit_identity',
        text: 'select id from machines where identity_ref = $1 limit 1',
        values: [identityRef],
      });
      if (taken.rows.length) return false;
      await insertRow(c, 'machines', row);
      await insertRow(c, 'audit_events', audit as unknown as Row);
      return true;
    }),
  pairingByTokenDigest: async (digest) =>
    (
      await pool.query({
        name: 'limit_pairing_by_digest',
        text: 'select * from agent_pairings where token_hash = $1',
        values: [digest],
      })
    ).rows[0],
  createOrder: (row, audit, spend) =>
    tx(async (c) => {
      await c.query({
        name: 'limit_lock_machine',
        text: 'select id, status from machines where id = $1 for update',
        values: [row.machine_id],
      });
      await c.query({
        name: 'limit_lock_pairing',
        text: 'select * from agent_pairings where id = $1 for update',
        values: [row.agent_pairing_id],
      });
      if (spend)
        await c.query({
          name: 'limit_spent',
          text: `select sum(amount_micros) as total from market_orders where agent_pairing_id = $1 and utc_day = $2 and (status <> 'cancelled' or payment_status = any($3))`,
          values: [row.agent_pairing_id, row.utc_day, MONEY_COMMITTED],
        });
      await insertRow(c, 'market_orders', row);
      await insertRow(c, 'audit_events', audit as unknown as Row);
    }),
});
