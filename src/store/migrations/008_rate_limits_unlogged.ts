// Rate-limit counters skip PostgreSQL's write-ahead log (an UNLOGGED table): every write request updates its
// client's counter in a statement of its own, and its commit waited for a WAL flush that the counters do not need.
// What this gives up: after a crash of the database server the table comes back empty (every client starts a fresh
// minute), and a streaming-replication standby has no copy (after a failover the same). A minute's budget is all
// either loses; bench/RESULTS.md has what it saved.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.raw('ALTER TABLE rate_limits SET UNLOGGED');
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.raw('ALTER TABLE rate_limits SET LOGGED');
}
