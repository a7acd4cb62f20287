// Rate-limit counters on PostgreSQL, in the layout rate-limiter-flexible's PostgreSQL store reads and writes.
// Created here rather than by the library at start-up, where replicas starting together would race on it.
// SQLite deployments count in memory (src/http/rate-limit.ts), so the table exists only on PostgreSQL.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.schema.createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('rate_limits');
}
