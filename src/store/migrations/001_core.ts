// Core tables: machines, signed challenges (machine identity and agent pairing) and audit events.
// Timestamps are ISO-8601 UTC strings with milliseconds on both engines: they sort lexically, which keyset
// pagination over (created_at, id) relies on.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('machines', (t) => {
    t.string('id', 64).primary();
    t.string('display_name', 200).notNullable();
    t.string('status', 16).notNullable();
    t.string('owner_id', 200).notNullable();
    t.string('identity_ref', 128).notNullable().unique();
    t.text('identity_proof');
    t.string('machine_type', 100).notNullable();
    t.string('runtime_profile', 100).notNullable();
    t.text('capabilities').notNullable();
    t.text('labels').notNullable();
    t.text('policy_ids').notNullable();
    t.text('skill_keys').notNullable();
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.index(['created_at', 'id']);
  });

  await knex.schema.createTable('challenges', (t) => {
    t.string('id', 64).primary();
    t.string('purpose', 32).notNullable();
    t.string('subject', 128).notNullable();
    t.string('machine_id', 64);
    t.text('payload').notNullable();
    t.text('message').notNullable();
    t.string('issued_at', 32).notNullable();
    t.string('expires_at', 32).notNullable();
    t.string('consumed_at', 32);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.string('id', 64).primary();
    t.string('actor', 64).notNullable();
    t.string('type', 64).notNullable();
    t.string('resource_type', 64).notNullable();
    t.string('resource_id', 128).notNullable();
    t.text('payload').notNullable();
    t.string('created_at', 32).notNullable();
    t.index(['created_at', 'id']);
    t.index(['type', 'created_at', 'id']);
    t.index(['resource_type', 'resource_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_events');
  await knex.schema.dropTableIfExists('challenges');
  await knex.schema.dropTableIfExists('machines');
}
