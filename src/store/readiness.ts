// The store's readiness probe: it is ready when it takes a write and commits it (a read succeeds on a full disk or
// a read-only database). One row of cluster_leases, rewritten by every probe.
import type { Knex } from 'knex';
import { withTransaction } from './tx.ts';

const READINESS_ROW = 'readiness-probe';

export async function commitProbeWrite(db: Knex): Promise<void> {
  await withTransaction(db, async (trx) => {
    const at = new Date().toISOString();
    const n = await trx('cluster_leases')
      .where({ name: READINESS_ROW })
      .update({ holder: 'readiness', expires_at: at });
    if (Number(n) === 0)
      await trx('cluster_leases')
        .insert({ name: READINESS_ROW, holder: 'readiness', expires_at: at })
        .onConflict('name')
        .merge();
  });
}
