import type { Knex } from 'knex';
import type { HandlerMap } from '../../http/types.ts';
import { ok } from '../../http/types.ts';
import { pageQuery } from '../../http/pagination.ts';
import { listAuditEvents } from './service.ts';

export function auditHandlers(db: Knex): HandlerMap {
  return {
    listAuditEvents: async (ctx) =>
      ok(
        await listAuditEvents(
          db,
          {
            type: ctx.query.type as string | undefined,
            resourceType: ctx.query.resourceType as string | undefined,
            resourceId: ctx.query.resourceId as string | undefined,
          },
          pageQuery(ctx.query),
        ),
      ),
  };
}
