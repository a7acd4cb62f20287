// What replicas share besides the data: idempotency keys (designed: the first answer to a POST carrying an
// Idempotency-Key, kept for PEAQOS_IDEMPOTENCY_TTL_MS, so that a retry gets that answer instead of a second
// execution, on any replica) and cluster leases (background work that one replica at a time does).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('scope', 64).notNullable();
    t.string('key', 255).notNullable();
    t.string('fingerprint', 64).notNullable();
    // running: the first request is in flight; applied: its state change committed, the answer is not stored
    // yet; completed: status and body hold the answer.
    t.string('state', 16).notNullable();
    t.integer('status');
    t.text('body');
    t.string('locked_until', 32).notNullable();
    t.string('expires_at', 32).notNullable();
    t.string('created_at', 32).notNullable();
    t.primary(['scope', 'key']);
    t.index(['expires_at']);
  });
  await knex.schema.createTable('cluster_leases', (t) => {
    t.string('name', 64).primary();
    t.string('holder', 64).notNullable();
    t.string('expires_at', 32).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('cluster_leases');
  await knex.schema.dropTable('idempotency_keys');
}
