// The machine's orchestration graph.
import { ApiError } from '../../../src/errors.ts';
import { mockId, now } from '../state.ts';
import { type Operation, ok, created, gone, sorted, audit, activeMachine, type OpsContext } from './common.ts';

export function graphOperations(_ctx: OpsContext): Record<string, Operation> {
  return {
    getGraph: (state, req) => {
      activeMachine(state, req.params.machineId!);
      return ok({
        nodes: sorted(state.nodes).filter((n) => n.machineId === req.params.machineId),
        edges: sorted(state.edges).filter((e) => e.machineId === req.params.machineId),
      });
    },
    createGraphNode: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const at = now(state);
      const n = {
        id: mockId(state, 'gnd'),
        machineId: req.params.machineId!,
        type: req.body.type,
        refId: req.body.refId ?? null,
        title: req.body.title,
        status: 'draft' as const,
        position: { x: req.body.position?.x ?? 0, y: req.body.position?.y ?? 0 },
        data: req.body.data ?? {},
        createdAt: at,
        updatedAt: at,
      };
      state.nodes.set(n.id, n);
      audit(state, 'graph.node.created', 'graph-node', n.id);
      return created({ item: n });
    },
    updateGraphNode: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const n = state.nodes.get(req.params.nodeId!);
      if (!n || n.machineId !== req.params.machineId) gone('Graph node');
      const b = req.body;
      Object.assign(n!, {
        ...(b.type ? { type: b.type } : {}),
        ...(b.title ? { title: b.title } : {}),
        ...(b.refId !== undefined ? { refId: b.refId } : {}),
        ...(b.status ? { status: b.status } : {}),
        position: { x: b.position?.x ?? n!.position.x, y: b.position?.y ?? n!.position.y },
        data: { ...n!.data, ...(b.data ?? {}) },
        updatedAt: now(state),
      });
      audit(state, 'graph.node.updated', 'graph-node', n!.id);
      return ok({ item: n });
    },
    deleteGraphNode: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const n = state.nodes.get(req.params.nodeId!);
      if (!n || n.machineId !== req.params.machineId) gone('Graph node');
      for (const e of [...state.edges.values()])
        if (e.sourceNodeId === n!.id || e.targetNodeId === n!.id) state.edges.delete(e.id);
      state.nodes.delete(n!.id);
      audit(state, 'graph.node.deleted', 'graph-node', n!.id);
      return { status: 204 };
    },
    createGraphEdge: (state, req) => {
      activeMachine(state, req.params.machineId!);
      for (const f of ['sourceNodeId', 'targetNodeId'])
        if (state.nodes.get(req.body[f])?.machineId !== req.params.machineId)
          throw new ApiError('VALIDATION_ERROR', `${f} must name a node of this machine.`, [
            { location: 'body', path: `/${f}`, rule: 'same-machine', message: 'no such node on this machine' },
          ]);
      const at = now(state);
      const e = {
        id: mockId(state, 'ged'),
        machineId: req.params.machineId!,
        sourceNodeId: req.body.sourceNodeId,
        targetNodeId: req.body.targetNodeId,
        type: req.body.type,
        ...(req.body.label ? { label: req.body.label } : {}),
        data: req.body.data ?? {},
        createdAt: at,
        updatedAt: at,
      };
      state.edges.set(e.id, e);
      audit(state, 'graph.edge.created', 'graph-edge', e.id);
      return created({ item: e });
    },
    updateGraphEdge: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const e = state.edges.get(req.params.edgeId!);
      if (!e || e.machineId !== req.params.machineId) gone('Graph edge');
      Object.assign(e!, {
        ...(req.body.type ? { type: req.body.type } : {}),
        ...(req.body.label ? { label: req.body.label } : {}),
        data: { ...e!.data, ...(req.body.data ?? {}) },
        updatedAt: now(state),
      });
      audit(state, 'graph.edge.updated', 'graph-edge', e!.id);
      return ok({ item: e });
    },
    deleteGraphEdge: (state, req) => {
      activeMachine(state, req.params.machineId!);
      const e = state.edges.get(req.params.edgeId!);
      if (!e || e.machineId !== req.params.machineId) gone('Graph edge');
      state.edges.delete(e!.id);
      audit(state, 'graph.edge.deleted', 'graph-edge', e!.id);
      return { status: 204 };
    },
  };
}
