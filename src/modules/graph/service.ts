// The machine's orchestration graph: nodes and edges. PATCH merges `data` shallowly; deleting a node deletes its
// edges; an edge must join two nodes of the same machine.
import { withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { fromJson, toJson } from '../../store/db.ts';
import type {
  CreateGraphEdgeRequest,
  CreateGraphNodeRequest,
  GetGraphResponse,
  GraphEdgeRecord,
  GraphNodeRecord,
  UpdateGraphEdgeRequest,
  UpdateGraphNodeRequest,
} from '../../../generated/types.gen.ts';
import { edgeFrom, graphRepo, nodeFrom, type EdgeRow, type NodeRow } from './repo.ts';
import { notFound, validationError } from '../../errors.ts';
import { recordAudit } from '../audit/service.ts';
import type { MachinesService } from '../machines/service.ts';

export interface GraphServiceDeps {
  db: Knex;
  clock: Clock;
  machines: MachinesService;
}

export class GraphService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly machines: MachinesService;

  constructor(deps: GraphServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock;
    this.machines = deps.machines;
  }

  async get(machineId: string): Promise<GetGraphResponse> {
    await this.machines.requireActive(machineId);
    const [nodes, edges] = await Promise.all([
      graphRepo.nodes(this.db, machineId),
      graphRepo.edges(this.db, machineId),
    ]);
    return { nodes: nodes.map(nodeFrom), edges: edges.map(edgeFrom) };
  }

  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  private async findNode(db: Knex | Knex.Transaction, machineId: string, id: string): Promise<NodeRow> {
    const r = await graphRepo.node(db, machineId, id);
    if (!r) throw notFound('Graph node');
    return r;
  }
  private async findEdge(db: Knex | Knex.Transaction, machineId: string, id: string): Promise<EdgeRow> {
    const r = await graphRepo.edge(db, machineId, id);
    if (!r) throw notFound('Graph edge');
    return r;
  }

  async createNode(machineId: string, input: CreateGraphNodeRequest): Promise<GraphNodeRecord> {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    const row: NodeRow = {
      id: newId('gnd', Date.parse(now)),
      machine_id: machineId,
      type: input.type,
      ref_id: input.refId ?? null,
      title: input.title,
      status: 'draft',
      position_x: input.position?.x ?? 0,
      position_y: input.position?.y ?? 0,
      data: toJson(input.data ?? {}),
      created_at: now,
      updated_at: now,
    };
    await withTransaction(this.db, async (trx) => {
      await graphRepo.insertNode(trx, row);
      await recordAudit(trx, {
        type: 'graph.node.created',
        resourceType: 'graph-node',
        resourceId: row.id,
        payload: { machineId, type: row.type, title: row.title },
        at: now,
      });
    });
    return nodeFrom(row);
  }

  async updateNode(machineId: string, id: string, input: UpdateGraphNodeRequest): Promise<GraphNodeRecord> {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const cur = await this.findNode(trx, machineId, id);
      const next: NodeRow = {
        ...cur,
        type: input.type ?? cur.type,
        title: input.title ?? cur.title,
        ref_id: input.refId !== undefined ? input.refId : cur.ref_id,
        status: input.status ?? cur.status,
        position_x: input.position?.x ?? cur.position_x,
        position_y: input.position?.y ?? cur.position_y,
        data: input.data ? toJson({ ...fromJson<Record<string, unknown>>(cur.data, {}), ...input.data }) : cur.data,
        updated_at: now,
      };
      await graphRepo.updateNode(trx, next);
      await recordAudit(trx, {
        type: 'graph.node.updated',
        resourceType: 'graph-node',
        resourceId: id,
        payload: { machineId, changed: Object.keys(input) },
        at: now,
      });
      return nodeFrom(next);
    });
  }

  async deleteNode(machineId: string, id: string) {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    await withTransaction(this.db, async (trx) => {
      await this.findNode(trx, machineId, id);
      const edgeIds = await graphRepo.edgesTouching(trx, id);
      await graphRepo.deleteEdges(trx, edgeIds);
      await graphRepo.deleteNode(trx, id);
      await recordAudit(trx, {
        type: 'graph.node.deleted',
        resourceType: 'graph-node',
        resourceId: id,
        payload: { machineId, deletedEdgeIds: edgeIds },
        at: now,
      });
      for (const edgeId of edgeIds)
        await recordAudit(trx, {
          type: 'graph.edge.deleted',
          resourceType: 'graph-edge',
          resourceId: edgeId,
          payload: { machineId, reason: 'node deleted', nodeId: id },
          at: now,
        });
    });
  }

  async createEdge(machineId: string, input: CreateGraphEdgeRequest): Promise<GraphEdgeRecord> {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      for (const [field, nodeId] of [
        ['sourceNodeId', input.sourceNodeId],
        ['targetNodeId', input.targetNodeId],
      ] as const) {
        if ((await graphRepo.nodeMachine(trx, nodeId)) !== machineId) {
          throw validationError(`${field} must name a node of this machine.`, [
            { location: 'body', path: `/${field}`, rule: 'same-machine', message: 'no such node on this machine' },
          ]);
        }
      }
      const row: EdgeRow = {
        id: newId('ged', Date.parse(now)),
        machine_id: machineId,
        source_node_id: input.sourceNodeId,
        target_node_id: input.targetNodeId,
        type: input.type,
        label: input.label ?? null,
        data: toJson(input.data ?? {}),
        created_at: now,
        updated_at: now,
      };
      await graphRepo.insertEdge(trx, row);
      await recordAudit(trx, {
        type: 'graph.edge.created',
        resourceType: 'graph-edge',
        resourceId: row.id,
        payload: { machineId, type: row.type, sourceNodeId: row.source_node_id, targetNodeId: row.target_node_id },
        at: now,
      });
      return edgeFrom(row);
    });
  }

  async updateEdge(machineId: string, id: string, input: UpdateGraphEdgeRequest): Promise<GraphEdgeRecord> {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const cur = await this.findEdge(trx, machineId, id);
      const next: EdgeRow = {
        ...cur,
        type: input.type ?? cur.type,
        label: input.label ?? cur.label,
        data: input.data ? toJson({ ...fromJson<Record<string, unknown>>(cur.data, {}), ...input.data }) : cur.data,
        updated_at: now,
      };
      await graphRepo.updateEdge(trx, next);
      await recordAudit(trx, {
        type: 'graph.edge.updated',
        resourceType: 'graph-edge',
        resourceId: id,
        payload: { machineId, changed: Object.keys(input) },
        at: now,
      });
      return edgeFrom(next);
    });
  }

  async deleteEdge(machineId: string, id: string) {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    await withTransaction(this.db, async (trx) => {
      await this.findEdge(trx, machineId, id);
      await graphRepo.deleteEdges(trx, [id]);
      await recordAudit(trx, {
        type: 'graph.edge.deleted',
        resourceType: 'graph-edge',
        resourceId: id,
        payload: { machineId },
        at: now,
      });
    });
  }
}
