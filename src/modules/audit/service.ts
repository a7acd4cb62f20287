// Audit events: written in the same transaction as the state change they record. Payloads never hold secrets.
import type { Knex } from 'knex';
import { newId } from '../../ids.ts';
import { toJson } from '../../store/db.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { auditFrom, auditRepo, type AuditEventRecord, type AuditFilter } from './repo.ts';
import { afterCommit } from '../../store/tx.ts';
import { emit, hasListeners } from '../../observe.ts';

export type Actor = 'api' | 'system:machine-markets' | `agent:${string}` | `machine-agent:${string}`;

export type { AuditEventRecord } from './repo.ts';

const SECRET_KEY =
  /token|secret|signature|password|authorization|credential|private.?key|api.?key|x-?payment|sign.?in.?with/i;

/** Deep copy with every secret-looking field replaced, so an audit payload can never leak one. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_KEY.test(k) && !/^has[A-Z]|LastFour$|Id$|ExpiresAt$|IssuedAt$/.test(k)) out[k] = '[REDACTED]';
    else out[k] = redactSecrets(v, depth + 1);
  }
  return out;
}

export interface AuditInput {
  actor?: Actor | string;
  type: string;
  resourceType: string;
  resourceId: string;
  payload?: Record<string, unknown>;
  at: string;
}

export async function recordAudit(trx: Knex | Knex.Transaction, e: AuditInput): Promise<void> {
  await auditRepo.insert(trx, {
    id: newId('aev', Date.parse(e.at)),
    actor: e.actor ?? 'api',
    type: e.type,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    payload: toJson(redactSecrets(e.payload ?? {})),
    created_at: e.at,
  });
  // Counted (metrics) only once the change it records has committed.
  if (hasListeners()) afterCommit(trx, (db) => emit({ kind: 'audit', db, type: e.type }));
}

export function listAuditEvents(db: Knex, filter: AuditFilter, page: PageQuery): Promise<Page<AuditEventRecord>> {
  return keysetPage(auditRepo.query(db, filter), page, auditFrom);
}
