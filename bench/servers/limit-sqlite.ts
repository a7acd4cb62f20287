// The limit on SQLite: node:http and better-sqlite3 doing the server's reads and writes with nothing else on the
// path (limit-core.ts). Reads run on a read-only connection with prepared statements; writes on a second
// connection with the server's settings (WAL, foreign keys, synchronous at SQLite's default FULL), each request's
// statements in one BEGIN IMMEDIATE transaction, as the server runs them.
import Database from 'better-sqlite3';
import { MONEY_COMMITTED } from '../../src/modules/orders/state.ts';
import { serveLimit, type AuditRow, type Row } from './limit-core.ts';

const reader = new Database(process.env.BENCH_DB!, { readonly: true });
const writer = new Database(process.env.BENCH_DB!);
writer.pragma('foreign_keys = ON');
writer.pragma('journal_mode = WAL');
const byId = reader.prepare('select * from machines where id = ?');
const firstPage = reader.prepare('select * from machines order by created_at, id limit ?');
const byIdentity = writer.prepare('select id from machines where identity_ref in (?) limit 1');
const insert = (table: string, row: Row) =>
  writer.prepare(
    `insert into ${table} (${Object.keys(row).join(', ')}) values (${Object.keys(row)
      .map(() => '?')
      .join(', ')})`,
  );
const prepared = new Map<string, Database.Statement>();
const insertRow = (table: string, row: Row) => {
  let s = prepared.get(table);
  if (!s) prepared.set(table, (s = insert(table, row)));
  s.run(Object.values(row));
};
const pairingByDigest = writer.prepare('select * from agent_pairings where token_hash = ?');
const lockMachine = writer.prepare('select id, status from machines where id = ?');
const lockPairing = writer.prepare('select * from agent_pairings where id = ?');
const spent = writer.prepare(
  `select sum(amount_micros) as total from market_orders where agent_pairing_id = ? and utc_day = ? and (status <> 'cancelled' or payment_status in (${MONEY_COMMITTED.map((s) => `'${s}'`).join(', ')}))`,
);
const begin = writer.prepare('BEGIN IMMEDIATE');
const commit = writer.prepare('COMMIT');
const rollback = writer.prepare('ROLLBACK');
function tx<T>(fn: () => T): T {
  begin.run();
  try {
    const out = fn();
    commit.run();
    return out;
  } catch (err) {
    rollback.run();
    throw err;
  }
}

serveLimit({
  machine: (id) => byId.get(id) as Row | undefined,
  firstPage: (limit) => firstPage.all(limit) as Row[],
  createMachine: (row, identityRef, audit: AuditRow) =>
    tx(() => {
      if (byIdentity.get(identityRef)) return false;
      insertRow('machines', row);
      insertRow('audit_events', audit as unknown as Row);
      return true;
    }),
  pairingByTokenDigest: (digest) => pairingByDigest.get(digest) as Row | undefined,
  createOrder: (row, audit, spend) =>
    tx(() => {
      lockMachine.get(row.machine_id);
      lockPairing.get(row.agent_pairing_id);
      if (spend) spent.get(row.agent_pairing_id, row.utc_day);
      insertRow('market_orders', row);
      insertRow('audit_events', audit as unknown as Row);
    }),
});
