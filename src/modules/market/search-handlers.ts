import type { HandlerMap } from '../../http/types.ts';
import { created } from '../../http/types.ts';
import type { MarketSearchService } from './search.ts';

export function searchHandlers(search: MarketSearchService) {
  return {
    searchMarket: async (ctx) => created({ item: await search.search(ctx.caller, ctx.body) }),
  } satisfies HandlerMap;
}
