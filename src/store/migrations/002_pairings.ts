// Machine Agent pairings. The session token itself is never stored: only its SHA-256 digest and last four
// characters; a token is valid only while its session is the pairing's current one.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('agent_pairings', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('status', 16).notNullable();
    t.string('agent_address', 42).notNullable();
    t.string('agent_did', 128);
    t.string('agent_provider', 64).notNullable();
    t.string('agent_role', 64).notNullable();
    t.text('description');
    t.text('verification');
    t.text('delegation_policy').notNullable();
    t.string('policy_hash', 64).notNullable();
    t.string('token_hash', 64);
    t.string('token_last_four', 4);
    t.string('session_id', 64);
    t.string('session_token_id', 64);
    t.string('session_issued_at', 32);
    t.string('session_expires_at', 32);
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.index(['machine_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('agent_pairings');
}
