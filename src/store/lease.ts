// Cluster leases: background work that must run on one replica at a time (the runtime prober) takes a named lease
// in the database before each round. The holder renews it every round; when it dies, the lease runs out and
// another replica takes over. Works the same on PostgreSQL and on a SQLite file shared by processes.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { isUniqueViolation } from './busy.ts';

export class ClusterLease {
  /** This process's identity as a lease holder. */
  readonly holder = randomUUID();

  constructor(
    private readonly db: Knex,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes or renews lease `name` for `ttlMs`; false while another holder's lease runs. */
  async acquire(name: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const expires = new Date(now + ttlMs).toISOString();
    const changed = await this.db('cluster_leases')
      .where({ name })
      .andWhere((q) => q.where({ holder: this.holder }).orWhere('expires_at', '<=', new Date(now).toISOString()))
      .update({ holder: this.holder, expires_at: expires });
    if (Number(changed) === 1) return true;
    try {
      await this.db('cluster_leases').insert({ name, holder: this.holder, expires_at: expires });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false; // another holder has it
      throw err;
    }
  }

  /** Gives the lease up at shutdown so another replica need not wait for it to run out. */
  async release(name: string): Promise<void> {
    await this.db('cluster_leases').where({ name, holder: this.holder }).delete();
  }
}
