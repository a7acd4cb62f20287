// Migrations are code, listed in order, so they run identically under tsx, in tests and on both engines.
import type { Knex } from 'knex';
import * as m001 from './001_core.ts';
import * as m002 from './002_pairings.ts';
import * as m003 from './003_market_and_orchestration.ts';
import * as m004 from './004_orders.ts';
import * as m005 from './005_replicas.ts';
import * as m006 from './006_identity_key.ts';
import * as m007 from './007_rate_limits.ts';
import * as m008 from './008_rate_limits_unlogged.ts';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const MIGRATIONS: Record<string, Migration> = {
  '001_core': m001,
  '002_pairings': m002,
  '003_market_and_orchestration': m003,
  '004_orders': m004,
  '005_replicas': m005,
  '006_identity_key': m006,
  '007_rate_limits': m007,
  '008_rate_limits_unlogged': m008,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const m = MIGRATIONS[name];
    if (!m) throw new Error(`unknown migration ${name}`);
    return m;
  },
};
