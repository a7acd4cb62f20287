import type { Knex } from 'knex';
import type { HandlerMap } from '../../http/types.ts';
import { ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import { listAuditEvents } from './service.ts';

export function auditHandlers(db: Knex) {
  return {
    listAuditEvents: async (ctx) =>
      ok(
        await listAuditEvents(
          db,
          { type: ctx.query.type, resourceType: ctx.query.resourceType, resourceId: ctx.query.resourceId },
          pageQuery(ctx.query),
        ),
      ),
  } satisfies HandlerMap;
}
