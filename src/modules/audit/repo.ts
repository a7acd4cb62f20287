// The audit_events table: rows, their mapping to the contract's record, and the queries. No rules here (secrets are
// redacted by service.ts before a payload gets here).
import type { Knex } from 'knex';
import type { AuditEventRecord } from '../../../generated/types.gen.ts';
import { fromJson } from '../../store/db.ts';
import { statementsOn } from '../../store/prepared.ts';

export type { AuditEventRecord };

export interface AuditRow {
  id: string;
  actor: string;
  type: string;
  resource_type: string;
  resource_id: string;
  payload: string;
  created_at: string;
}

export interface AuditFilter {
  type?: string;
  resourceType?: string;
  resourceId?: string;
}

export const auditFrom = (r: AuditRow): AuditEventRecord => ({
  id: r.id,
  actor: r.actor,
  type: r.type,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  payload: fromJson(r.payload, {}),
  createdAt: r.created_at,
});

export const auditRepo = {
  /** Inside a transaction (where every state change writes its event) as a prepared statement on its connection. */
  async insert(db: Knex | Knex.Transaction, row: AuditRow): Promise<void> {
    await (await statementsOn(db)).insertDeferred('audit_events', { ...row });
  },
  query(db: Knex, f: AuditFilter) {
    const qb = db('audit_events').select('*');
    if (f.type) qb.where('type', f.type);
    if (f.resourceType) qb.where('resource_type', f.resourceType);
    if (f.resourceId) qb.where('resource_id', f.resourceId);
    return qb;
  },
};
