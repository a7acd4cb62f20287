// Market orders and their payments. Amounts are stored as integer micro-units (1e-6 of the currency unit) so
// that the daily-limit sum is exact on both engines.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('market_orders', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('agent_pairing_id', 64).notNullable().references('id').inTable('agent_pairings');
    t.string('search_id', 64);
    t.string('quote_id', 64);
    t.string('service_id', 128).notNullable();
    t.string('skill_key', 128).notNullable();
    t.string('provider_key', 64).notNullable();
    t.string('service_type', 64).notNullable();
    t.string('operation', 128).notNullable();
    t.string('execution_mode', 32).notNullable();
    t.string('integration_status', 32).notNullable();
    t.string('status', 16).notNullable();
    t.text('input').notNullable();
    t.text('budget');
    t.text('payment').notNullable();
    t.text('service_snapshot').notNullable();
    t.string('task_id', 64);
    t.string('route_id', 64);
    t.string('run_id', 64);
    t.string('outcome_id', 64);
    t.text('handoff');
    t.bigInteger('amount_micros');
    t.string('currency', 16);
    t.string('payment_status', 16);
    t.text('error_message');
    t.text('dispute_reason');
    t.string('utc_day', 10).notNullable();
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.index(['machine_id', 'created_at', 'id']);
    t.index(['agent_pairing_id', 'utc_day']);
  });

  await knex.schema.createTable('market_payments', (t) => {
    t.string('id', 64).primary();
    t.string('order_id', 64).notNullable().unique().references('id').inTable('market_orders');
    t.string('machine_id', 64).notNullable();
    t.string('status', 16).notNullable();
    t.string('rail', 32).notNullable();
    t.boolean('required').notNullable();
    t.bigInteger('amount_micros');
    t.string('currency', 16);
    t.string('chain', 32);
    t.string('payer_address', 128);
    t.string('payee_address', 128);
    t.string('token_address', 128);
    t.string('tx_hash', 128);
    t.string('verification_mode', 16);
    t.string('verified_at', 32);
    t.string('escrow_ref', 256);
    t.text('challenge');
    t.text('note');
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('market_payments');
  await knex.schema.dropTableIfExists('market_orders');
}
