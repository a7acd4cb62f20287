// The market_searches table: a search as stored, and the queries. No rules here.
import type { Knex } from 'knex';
import type { MarketSearch } from '../../../generated/types.gen.ts';
import { fromJson, toJson } from '../../store/db.ts';

type Db = Knex | Knex.Transaction;

interface SearchRow {
  id: string;
  machine_id: string;
  agent_pairing_id: string | null;
  status: string;
  query: string;
  quotes: string;
  excluded: string;
  expires_at: string;
  created_at: string;
}

export function searchFromRow(r: SearchRow): MarketSearch {
  return {
    id: r.id,
    machineId: r.machine_id,
    agentPairingId: r.agent_pairing_id,
    status: r.status as MarketSearch['status'],
    query: fromJson(r.query, {}),
    quotes: fromJson(r.quotes, []),
    excluded: fromJson(r.excluded, []),
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  };
}

export const searchesRepo = {
  async insert(db: Db, s: MarketSearch): Promise<void> {
    await db('market_searches').insert({
      id: s.id,
      machine_id: s.machineId,
      agent_pairing_id: s.agentPairingId,
      status: s.status,
      query: toJson(s.query),
      quotes: toJson(s.quotes),
      excluded: toJson(s.excluded),
      expires_at: s.expiresAt,
      created_at: s.createdAt,
    });
  },
  async find(db: Db, id: string): Promise<MarketSearch | undefined> {
    const r = (await db('market_searches').where({ id }).first()) as SearchRow | undefined;
    return r && searchFromRow(r);
  },
};
