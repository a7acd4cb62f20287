// Compile-time checks of the handler types (src/http/types.ts), run by `npm run typecheck` (part of `npm test`).
// Each @ts-expect-error must meet an error: if a handler could read a parameter its operation does not have, or
// answer a status or body the contract does not document, the directive itself would fail the typecheck.
import type { HandlerMap, Handlers } from '../src/http/types.ts';

export const wrongAnswers: HandlerMap = {
  // @ts-expect-error -- getMachine answers { item: Machine }, not a string
  getMachine: async () => ({ status: 200, body: 'not a machine' }),
  // @ts-expect-error -- listPolicies documents no 201
  listPolicies: async () => ({ status: 201, body: { items: [] } }),
  // @ts-expect-error -- deletePolicy answers 204 without a body
  deletePolicy: async () => ({ status: 200, body: { deleted: true } }),
  // @ts-expect-error -- a policy's name is a string
  getPolicy: async () => ({ status: 200, body: { item: { id: 'p', name: 42 } } }),
  // @ts-expect-error -- an answer given now (not a promise) is checked the same: getHealth documents no 202
  getHealth: () => ({ status: 202, body: { ok: true } }),
};

export const wrongReads: HandlerMap = {
  getMachine: async (ctx) => {
    // @ts-expect-error -- getMachine has no taskId path parameter
    void ctx.params.taskId;
    // @ts-expect-error -- getMachine takes no body
    void ctx.body.displayName;
    throw new Error('never run');
  },
  listPolicies: async (ctx) => {
    const limit: number | undefined = ctx.query.limit;
    // @ts-expect-error -- listPolicies has no machineId query parameter
    void ctx.query.machineId;
    void limit;
    throw new Error('never run');
  },
  createPolicy: async (ctx) => {
    const name: string = ctx.body.name;
    // @ts-expect-error -- CreatePolicyRequest has no displayName
    void ctx.body.displayName;
    void name;
    throw new Error('never run');
  },
};

// @ts-expect-error -- the server's handler table must cover every operation of the contract
export const incomplete: Handlers = { getHealth: async () => ({ status: 200, body: { ok: true } }) };
