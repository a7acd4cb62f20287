// The machine's graph: nodes and edges created, patched, deleted, and the graph read back.
import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerGraph(kit: Kit, ctx: CheckContext): void {
  const { h, machine } = ctx;
  kit.group('graph', (check) => {
    check(
      'graph nodes and edges: create, patch (shallow merge), delete',
      async () => {
        const m = await machine();
        const a = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, {
            body: { type: 'machine', title: 'kit', data: { a: 1 } },
          }),
          'createGraphNode',
          201,
        );
        const b = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, { body: { type: 'skill', title: 'kit skill' } }),
          'createGraphNode',
          201,
        );
        const p = kit.ok(
          await h.send('PATCH', `/api/v1/machines/${m.id}/graph/nodes/${a.body.item.id}`, { body: { data: { b: 2 } } }),
          'updateGraphNode',
          200,
        );
        kit.assert(
          p.body.item.data.a === 1 && p.body.item.data.b === 2,
          p,
          'updateGraphNode',
          `data merged shallowly with what was created (${STATELESS})`,
        );
        const e = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/graph/edges`, {
            body: { sourceNodeId: a.body.item.id, targetNodeId: b.body.item.id, type: 'connects' },
          }),
          'createGraphEdge',
          201,
        );
        kit.ok(
          await h.send('PATCH', `/api/v1/machines/${m.id}/graph/edges/${e.body.item.id}`, { body: { label: 'x' } }),
          'updateGraphEdge',
          200,
        );
        kit.ok(
          await h.send('DELETE', `/api/v1/machines/${m.id}/graph/nodes/${b.body.item.id}`),
          'deleteGraphNode',
          204,
        );
        const g = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/graph`), 'getGraph', 200);
        kit.assert(
          !g.body.edges.some((x: { id: string }) => x.id === e.body.item.id),
          g,
          'getGraph',
          `deleting a node deletes its edges (${STATELESS})`,
        );
      },
      { identity: true },
    );
    check(
      'graph edges: DELETE answers 204, the edge leaves the graph, a second DELETE is 404',
      async () => {
        const m = await machine();
        const a = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, { body: { type: 'task', title: 'kit a' } }),
          'createGraphNode',
          201,
        );
        const b = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/graph/nodes`, { body: { type: 'route', title: 'kit b' } }),
          'createGraphNode',
          201,
        );
        const e = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/graph/edges`, {
            body: { sourceNodeId: a.body.item.id, targetNodeId: b.body.item.id, type: 'connects' },
          }),
          'createGraphEdge',
          201,
        );
        const before = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/graph`), 'getGraph', 200);
        kit.assert(
          before.body.edges.some((x: { id: string }) => x.id === e.body.item.id),
          before,
          'getGraph',
          `the graph holds the created edge (${STATELESS})`,
        );
        kit.ok(
          await h.send('DELETE', `/api/v1/machines/${m.id}/graph/edges/${e.body.item.id}`),
          'deleteGraphEdge',
          204,
        );
        const g = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/graph`), 'getGraph', 200);
        kit.assert(
          !g.body.edges.some((x: { id: string }) => x.id === e.body.item.id),
          g,
          'getGraph',
          `a deleted edge leaves the graph (${STATELESS})`,
        );
        kit.error(
          await h.send('DELETE', `/api/v1/machines/${m.id}/graph/edges/${e.body.item.id}`),
          'deleteGraphEdge',
          'NOT_FOUND',
        );
      },
      { identity: true },
    );
  });
}
