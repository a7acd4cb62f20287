// Tasks: create with documented defaults, discover, resolve, execute; read back and list.
import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerTasks(kit: Kit, ctx: CheckContext): void {
  const { h, machine } = ctx;
  kit.group('tasks', (check) => {
    check(
      'task discover, resolve (201 with a fallback chain) and execute',
      async () => {
        const m = await machine();
        const t = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/tasks`, {
            body: {
              serviceType: 'compute.marketplace',
              taskType: 'conformance',
              input: { messages: [{ role: 'user', content: 'ping' }] },
            },
          }),
          'createTask',
          201,
        );
        const id = t.body.item.id;
        kit.assert(
          t.body.item.constraints.allowExternalHandoff === true && t.body.item.discovery.maxCandidates === 10,
          t,
          'createTask',
          'documented defaults',
        );
        kit.error(
          await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/execute`, { body: {} }),
          'executeTask',
          'ROUTE_REQUIRED',
        );
        kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/discover`, { body: {} }),
          'discoverTask',
          200,
        );
        const r = await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/resolve`, { body: {} });
        if (r.status === 409) kit.skip('the target catalogue has no compute.marketplace candidate for this machine');
        kit.ok(r, 'resolveTask', 201);
        kit.assert(Array.isArray(r.body.item.fallbackChain), r, 'resolveTask', 'the route carries its fallbackChain');
        const ex = await h.send('POST', `/api/v1/machines/${m.id}/tasks/${id}/execute`, { body: {} });
        if (ex.status >= 400) kit.error(ex, 'executeTask', ['RUNTIME_EXECUTION_FAILED', 'RUNTIME_UNAVAILABLE']);
        else kit.ok(ex, 'executeTask', [200, 202]);
        kit.ok(await h.send('GET', `/api/v1/runs?machineId=${m.id}`), 'listRuns', 200);
        const run = ex.body?.run?.id;
        if (run) kit.ok(await h.send('GET', `/api/v1/runs/${run}`), 'getRun', 200);
        kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/routes`), 'listRoutes', 200);
        kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/outcomes`), 'listOutcomes', 200);
      },
      { identity: true },
    );
    check(
      'tasks: listed and read back as created; unknown tasks are 404',
      async () => {
        const m = await machine();
        const t = kit.ok(
          await h.send('POST', `/api/v1/machines/${m.id}/tasks`, {
            body: { serviceType: 'oracle.price-feed', taskType: 'kit-read-back', operation: 'price.latest' },
          }),
          'createTask',
          201,
        );
        const got = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/tasks/${t.body.item.id}`), 'getTask', 200);
        kit.assert(
          got.body.item.taskType === 'kit-read-back' && got.body.item.serviceType === 'oracle.price-feed',
          got,
          'getTask',
          `GET returns the task as created (${STATELESS})`,
        );
        const list = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}/tasks?limit=500`), 'listTasks', 200);
        kit.assert(
          list.body.items.some((x: { id: string }) => x.id === t.body.item.id),
          list,
          'listTasks',
          `the list holds the task (${STATELESS})`,
        );
        kit.error(await h.send('GET', `/api/v1/machines/${m.id}/tasks/conformance-missing`), 'getTask', 'NOT_FOUND');
      },
      { identity: true },
    );
  });
}
