import type { Knex } from 'knex';

/** Provider keys with an active runtime endpoint whose lease (if any) has not expired. Expired leases count as unreachable. */
export async function activeProviderKeys(db: Knex, machineId: string, nowIso: string): Promise<Set<string>> {
  const rows = (await db('runtime_endpoints')
    .where({ machine_id: machineId, status: 'active' })
    .andWhere((w) => w.whereNull('lease_expires_at').orWhere('lease_expires_at', '>', nowIso))
    .select('provider_key')) as { provider_key: string }[];
  return new Set(rows.map((r) => r.provider_key));
}
