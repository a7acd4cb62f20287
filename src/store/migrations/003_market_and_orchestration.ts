// Market searches (with their quotes) and the orchestration tables: policies, runtime endpoints, machine-side
// agents, graph, tasks, routes, outcomes and runs.
import type { Knex } from 'knex';

const stamps = (t: Knex.CreateTableBuilder) => {
  t.string('created_at', 32).notNullable();
  t.string('updated_at', 32).notNullable();
};

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('market_searches', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('agent_pairing_id', 64).references('id').inTable('agent_pairings');
    t.string('status', 16).notNullable();
    t.text('query').notNullable();
    t.text('quotes').notNullable();
    t.text('excluded').notNullable();
    t.string('expires_at', 32).notNullable();
    t.string('created_at', 32).notNullable();
    t.index(['machine_id', 'created_at']);
  });

  await knex.schema.createTable('policies', (t) => {
    t.string('id', 64).primary();
    t.string('name', 200).notNullable();
    t.text('allowed_skill_keys').notNullable();
    t.text('denied_skill_keys').notNullable();
    t.text('budget_cap');
    t.text('region_rules').notNullable();
    t.boolean('native_only').notNullable();
    t.boolean('handoff_allowed').notNullable();
    t.text('required_capabilities').notNullable();
    stamps(t);
    t.index(['created_at', 'id']);
  });

  await knex.schema.createTable('machine_agents', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('label', 200).notNullable();
    t.text('allowed_provider_keys').notNullable();
    t.string('status', 16).notNullable();
    t.string('token_hash', 64);
    t.string('last_seen_at', 32);
    stamps(t);
    t.index(['machine_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('runtime_endpoints', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('provider_key', 64).notNullable();
    t.string('source', 16).notNullable();
    t.string('agent_id', 64).references('id').inTable('machine_agents');
    t.string('label', 200).notNullable();
    t.string('endpoint_base_url', 2048).notNullable();
    t.string('auth_type', 16).notNullable();
    t.text('auth_token');
    t.string('model_alias', 200);
    t.string('network_scope', 16).notNullable();
    t.string('probe_path', 512).notNullable();
    t.string('status', 16).notNullable();
    t.string('lease_expires_at', 32);
    t.string('last_checked_at', 32);
    t.string('last_healthy_at', 32);
    stamps(t);
    t.unique(['machine_id', 'provider_key']);
    t.index(['machine_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('graph_nodes', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('type', 32).notNullable();
    t.string('ref_id', 200);
    t.string('title', 200).notNullable();
    t.string('status', 16).notNullable();
    t.float('position_x').notNullable();
    t.float('position_y').notNullable();
    t.text('data').notNullable();
    stamps(t);
    t.index(['machine_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('graph_edges', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('source_node_id', 64).notNullable().references('id').inTable('graph_nodes').onDelete('CASCADE');
    t.string('target_node_id', 64).notNullable().references('id').inTable('graph_nodes').onDelete('CASCADE');
    t.string('type', 32).notNullable();
    t.string('label', 200);
    t.text('data').notNullable();
    stamps(t);
    t.index(['machine_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('tasks', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('service_type', 64).notNullable();
    t.string('operation', 100);
    t.string('task_type', 100).notNullable();
    t.string('status', 16).notNullable();
    t.text('input').notNullable();
    t.text('constraints').notNullable();
    t.text('discovery').notNullable();
    t.string('route_id', 64);
    t.string('outcome_id', 64);
    stamps(t);
    t.index(['machine_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('routes', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('task_id', 64).notNullable().references('id').inTable('tasks');
    t.string('selected_skill_key', 128).notNullable();
    t.string('selected_service_id', 128).notNullable();
    t.string('execution_mode', 32).notNullable();
    t.string('integration_status', 32).notNullable();
    t.string('status', 16).notNullable();
    t.text('reason').notNullable();
    t.float('score').notNullable();
    t.text('fallback_chain').notNullable();
    t.text('handoff');
    stamps(t);
    t.index(['machine_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('outcomes', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('task_id', 64).notNullable().references('id').inTable('tasks');
    t.string('route_id', 64).notNullable().references('id').inTable('routes');
    t.string('status', 16).notNullable();
    t.string('skill_key', 128).notNullable();
    t.string('service_id', 128).notNullable();
    t.string('execution_mode', 32).notNullable();
    t.string('receipt_ref', 256);
    t.string('logs_ref', 256);
    t.string('external_ref', 2048);
    t.string('error_code', 64);
    t.text('error_message');
    t.text('result');
    stamps(t);
    t.index(['machine_id', 'created_at', 'id']);
  });

  await knex.schema.createTable('runs', (t) => {
    t.string('id', 64).primary();
    t.string('machine_id', 64).notNullable().references('id').inTable('machines');
    t.string('task_id', 64).notNullable().references('id').inTable('tasks');
    t.string('route_id', 64);
    t.string('outcome_id', 64);
    t.string('status', 16).notNullable();
    t.string('execution_mode', 32);
    t.string('skill_key', 128);
    t.string('service_id', 128);
    t.text('summary');
    stamps(t);
    t.index(['machine_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [
    'runs',
    'outcomes',
    'routes',
    'tasks',
    'graph_edges',
    'graph_nodes',
    'runtime_endpoints',
    'machine_agents',
    'policies',
    'market_searches',
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
}
