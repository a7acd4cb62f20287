// The graph's tables: rows, their mapping to the contract's records, and the queries. No rules here.
import type { Knex } from 'knex';
import type {
  EdgeType,
  GraphEdgeRecord,
  GraphNodeRecord,
  GraphNodeStatus,
  NodeType,
} from '../../../generated/types.gen.ts';
import { fromJson } from '../../store/db.ts';
import { forUpdate } from '../../store/tx.ts';

type Db = Knex | Knex.Transaction;

export interface NodeRow {
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
export interface EdgeRow {
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

// Rows hold only what request validation let through, so their enum columns are the contract's enums.
export const nodeFrom = (r: NodeRow): GraphNodeRecord => ({
  id: r.id,
  machineId: r.machine_id,
  type: r.type as NodeType,
  refId: r.ref_id,
  title: r.title,
  status: r.status as GraphNodeStatus,
  position: { x: Number(r.position_x), y: Number(r.position_y) },
  data: fromJson(r.data, {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
export const edgeFrom = (r: EdgeRow): GraphEdgeRecord => ({
  id: r.id,
  machineId: r.machine_id,
  sourceNodeId: r.source_node_id,
  targetNodeId: r.target_node_id,
  type: r.type as EdgeType,
  ...(r.label !== null ? { label: r.label } : {}),
  data: fromJson(r.data, {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const ordered = [{ column: 'created_at' }, { column: 'id' }];

export const graphRepo = {
  async nodes(db: Db, machineId: string): Promise<NodeRow[]> {
    return (await db('graph_nodes').where({ machine_id: machineId }).orderBy(ordered)) as NodeRow[];
  },
  async edges(db: Db, machineId: string): Promise<EdgeRow[]> {
    return (await db('graph_edges').where({ machine_id: machineId }).orderBy(ordered)) as EdgeRow[];
  },
  /** Inside a transaction the row stays locked until it ends (store/tx.ts). */
  async node(db: Db, machineId: string, id: string): Promise<NodeRow | undefined> {
    return (await forUpdate(db('graph_nodes').where({ id, machine_id: machineId }).first())) as NodeRow | undefined;
  },
  async edge(db: Db, machineId: string, id: string): Promise<EdgeRow | undefined> {
    return (await forUpdate(db('graph_edges').where({ id, machine_id: machineId }).first())) as EdgeRow | undefined;
  },
  /** The machine a node belongs to (locked inside a transaction), whatever machine that is. */
  async nodeMachine(db: Db, nodeId: string): Promise<string | undefined> {
    const r = (await forUpdate(db('graph_nodes').where({ id: nodeId }).first('machine_id'))) as
      { machine_id: string } | undefined;
    return r?.machine_id;
  },
  async insertNode(db: Db, row: NodeRow): Promise<void> {
    await db('graph_nodes').insert(row);
  },
  async updateNode(db: Db, row: NodeRow): Promise<void> {
    const { id, created_at: _created, ...rest } = row;
    await db('graph_nodes').where({ id }).update(rest);
  },
  async deleteNode(db: Db, id: string): Promise<void> {
    await db('graph_nodes').where({ id }).delete();
  },
  /** The ids of the edges that start or end at a node. */
  async edgesTouching(db: Db, nodeId: string): Promise<string[]> {
    const rows = (await db('graph_edges')
      .where((w) => w.where({ source_node_id: nodeId }).orWhere({ target_node_id: nodeId }))
      .select('id')) as { id: string }[];
    return rows.map((r) => r.id);
  },
  async insertEdge(db: Db, row: EdgeRow): Promise<void> {
    await db('graph_edges').insert(row);
  },
  async updateEdge(db: Db, row: EdgeRow): Promise<void> {
    await db('graph_edges')
      .where({ id: row.id })
      .update({ type: row.type, label: row.label, data: row.data, updated_at: row.updated_at });
  },
  async deleteEdges(db: Db, ids: string[]): Promise<void> {
    if (ids.length) await db('graph_edges').whereIn('id', ids).delete();
  },
};
