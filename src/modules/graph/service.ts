// The machine's orchestration graph: nodes and edges. PATCH merges `data` shallowly; deleting a node deletes its
// edges; an edge must join two nodes of the same machine.
import { forUpdate, withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { fromJson, toJson } from '../../store/db.ts';
import { notFound, validationError } from '../../errors.ts';
import { recordAudit } from '../audit/service.ts';
import type { MachinesService } from '../machines/service.ts';

export interface GraphNode {
  id: string;
  machineId: string;
  type: string;
  refId: string | null;
  title: string;
  status: 'draft' | 'active' | 'blocked' | 'degraded';
  position: { x: number; y: number };
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface GraphEdge {
  id: string;
  machineId: string;
  sourceNodeId: string;
  targetNodeId: string;
  type: string;
  label?: string;
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

interface NodeRow {
  id: string;
  machine_id: string;
  type: string;
  ref_id: string | null;
  title: string;
  status: string;
  position_x: number;
  position_y: number;
  data: string;
  created_at: string;
  updated_at: string;
}
interface EdgeRow {
  id: string;
  machine_id: string;
  source_node_id: string;
  target_node_id: string;
  type: string;
  label: string | null;
  data: string;
  created_at: string;
  updated_at: string;
}

const node = (r: NodeRow): GraphNode => ({
  id: r.id,
  machineId: r.machine_id,
  type: r.type,
  refId: r.ref_id,
  title: r.title,
  status: r.status as GraphNode['status'],
  position: { x: Number(r.position_x), y: Number(r.position_y) },
  data: fromJson(r.data, {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const edge = (r: EdgeRow): GraphEdge => ({
  id: r.id,
  machineId: r.machine_id,
  sourceNodeId: r.source_node_id,
  targetNodeId: r.target_node_id,
  type: r.type,
  ...(r.label !== null ? { label: r.label } : {}),
  data: fromJson(r.data, {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class GraphService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly machines: MachinesService,
  ) {}

  async get(machineId: string) {
    await this.machines.requireActive(machineId);
    const [nodes, edges] = await Promise.all([
      this.db('graph_nodes')
        .where({ machine_id: machineId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]),
      this.db('graph_edges')
        .where({ machine_id: machineId })
        .orderBy([{ column: 'created_at' }, { column: 'id' }]),
    ]);
    return { nodes: (nodes as NodeRow[]).map(node), edges: (edges as EdgeRow[]).map(edge) };
  }

  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  private async findNode(db: Knex | Knex.Transaction, machineId: string, id: string): Promise<NodeRow> {
    const r = (await forUpdate(db('graph_nodes').where({ id, machine_id: machineId }).first())) as NodeRow | undefined;
    if (!r) throw notFound('Graph node');
    return r;
  }
  private async findEdge(db: Knex | Knex.Transaction, machineId: string, id: string): Promise<EdgeRow> {
    const r = (await forUpdate(db('graph_edges').where({ id, machine_id: machineId }).first())) as EdgeRow | undefined;
    if (!r) throw notFound('Graph edge');
    return r;
  }

  async createNode(
    machineId: string,
    input: {
      type: string;
      title: string;
      refId?: string;
      position?: { x?: number; y?: number };
      data?: Record<string, unknown>;
    },
  ) {
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
      await trx('graph_nodes').insert(row);
      await recordAudit(trx, {
        type: 'graph.node.created',
        resourceType: 'graph-node',
        resourceId: row.id,
        payload: { machineId, type: row.type, title: row.title },
        at: now,
      });
    });
    return node(row);
  }

  async updateNode(
    machineId: string,
    id: string,
    input: {
      type?: string;
      title?: string;
      refId?: string | null;
      status?: string;
      position?: { x?: number; y?: number };
      data?: Record<string, unknown>;
    },
  ) {
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
      const { id: _i, created_at: _c, ...rest } = next;
      void _i;
      void _c;
      await trx('graph_nodes').where({ id }).update(rest);
      await recordAudit(trx, {
        type: 'graph.node.updated',
        resourceType: 'graph-node',
        resourceId: id,
        payload: { machineId, changed: Object.keys(input) },
        at: now,
      });
      return node(next);
    });
  }

  async deleteNode(machineId: string, id: string) {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    await withTransaction(this.db, async (trx) => {
      await this.findNode(trx, machineId, id);
      const edges = (await trx('graph_edges')
        .where((w) => w.where({ source_node_id: id }).orWhere({ target_node_id: id }))
        .select('id')) as { id: string }[];
      await trx('graph_edges')
        .whereIn(
          'id',
          edges.map((e) => e.id),
        )
        .delete();
      await trx('graph_nodes').where({ id }).delete();
      await recordAudit(trx, {
        type: 'graph.node.deleted',
        resourceType: 'graph-node',
        resourceId: id,
        payload: { machineId, deletedEdgeIds: edges.map((e) => e.id) },
        at: now,
      });
      for (const e of edges)
        await recordAudit(trx, {
          type: 'graph.edge.deleted',
          resourceType: 'graph-edge',
          resourceId: e.id,
          payload: { machineId, reason: 'node deleted', nodeId: id },
          at: now,
        });
    });
  }

  async createEdge(
    machineId: string,
    input: { sourceNodeId: string; targetNodeId: string; type: string; label?: string; data?: Record<string, unknown> },
  ) {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      for (const [field, nodeId] of [
        ['sourceNodeId', input.sourceNodeId],
        ['targetNodeId', input.targetNodeId],
      ] as const) {
        const n = (await forUpdate(trx('graph_nodes').where({ id: nodeId }).first('machine_id'))) as
          { machine_id: string } | undefined;
        if (!n || n.machine_id !== machineId) {
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
      await trx('graph_edges').insert(row);
      await recordAudit(trx, {
        type: 'graph.edge.created',
        resourceType: 'graph-edge',
        resourceId: row.id,
        payload: { machineId, type: row.type, sourceNodeId: row.source_node_id, targetNodeId: row.target_node_id },
        at: now,
      });
      return edge(row);
    });
  }

  async updateEdge(
    machineId: string,
    id: string,
    input: { type?: string; label?: string; data?: Record<string, unknown> },
  ) {
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
      await trx('graph_edges')
        .where({ id })
        .update({ type: next.type, label: next.label, data: next.data, updated_at: now });
      await recordAudit(trx, {
        type: 'graph.edge.updated',
        resourceType: 'graph-edge',
        resourceId: id,
        payload: { machineId, changed: Object.keys(input) },
        at: now,
      });
      return edge(next);
    });
  }

  async deleteEdge(machineId: string, id: string) {
    await this.machines.requireActive(machineId);
    const now = this.clock.now().toISOString();
    await withTransaction(this.db, async (trx) => {
      await this.findEdge(trx, machineId, id);
      await trx('graph_edges').where({ id }).delete();
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
