import type { HandlerMap } from '../../http/types.ts';
import { created, noContent, ok } from '../../http/types.ts';
import type { GraphService } from './service.ts';

export function graphHandlers(graph: GraphService) {
  return {
    getGraph: async (ctx) => ok(await graph.get(ctx.params.machineId)),
    createGraphNode: async (ctx) => created({ item: await graph.createNode(ctx.params.machineId, ctx.body) }),
    updateGraphNode: async (ctx) =>
      ok({ item: await graph.updateNode(ctx.params.machineId, ctx.params.nodeId, ctx.body) }),
    deleteGraphNode: async (ctx) => {
      await graph.deleteNode(ctx.params.machineId, ctx.params.nodeId);
      return noContent();
    },
    createGraphEdge: async (ctx) => created({ item: await graph.createEdge(ctx.params.machineId, ctx.body) }),
    updateGraphEdge: async (ctx) =>
      ok({ item: await graph.updateEdge(ctx.params.machineId, ctx.params.edgeId, ctx.body) }),
    deleteGraphEdge: async (ctx) => {
      await graph.deleteEdge(ctx.params.machineId, ctx.params.edgeId);
      return noContent();
    },
  } satisfies HandlerMap;
}
