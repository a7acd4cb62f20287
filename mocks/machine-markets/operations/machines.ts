// Machines and their identity challenges (real EIP-191 proofs against the MCR fixture fleet).
import { CLOSED_ORDER_STATUSES, type OrderStatus } from '../../../src/modules/orders/state.ts';
import { ApiError } from '../../../src/errors.ts';
import type { Machine } from '../../../generated/types.gen.ts';
import { clockMs, mockId, now } from '../state.ts';
import {
  type Operation,
  ok,
  created,
  gone,
  page,
  sorted,
  audit,
  machine,
  consume,
  issueChallenge,
  type OpsContext,
} from './common.ts';

/** One MCR machine is one identity whichever identityRef form names it (the DID, lower-cased, when known). */
const identityKey = (ref: string, did?: string) => (did ?? (/^did:peaq:/.test(ref) ? ref : `ref:${ref}`)).toLowerCase();

export function machinesOperations(ctx: OpsContext): Record<string, Operation> {
  const { resolve, resolves } = ctx;
  return {
    createMachineIdentityChallenge: async (state, req) => {
      const f = (await resolve(req.body.identityRef)) ?? gone('identityRef (it does not resolve through MCR)');
      const c = issueChallenge(state, 'machine-identity', req.body.identityRef, null, f.controllers);
      return created({
        item: {
          challengeId: c.id,
          identityRef: req.body.identityRef,
          message: c.message,
          expiresAt: c.expiresAt,
          verificationMethod: 'eip191',
          controllerAddresses: f.controllers,
        },
      });
    },
    listMachines: async (state, req) => {
      const verified = sorted(state.machines).filter((m) => m.identityProof);
      const keep = await Promise.all(verified.map(resolves));
      return ok(
        page(
          verified.filter((_, i) => keep[i]),
          req.query,
        ),
      );
    },
    createMachine: async (state, req) => {
      const b = req.body;
      if ([...state.machines.values()].some((m) => m.identityRef.toLowerCase() === b.identityRef.toLowerCase()))
        throw new ApiError('MACHINE_IDENTITY_EXISTS', 'A machine with this identityRef is already registered.');
      for (const id of b.policyIds ?? [])
        if (!state.policies.has(id)) throw new ApiError('VALIDATION_ERROR', `Unknown policy id ${id}.`);
      let proof: Machine['identityProof'];
      let resolvedDid: string | undefined;
      if (!b.identityProof)
        throw new ApiError(
          'MACHINE_IDENTITY_PROOF_REQUIRED',
          'identityProof is required: sign a challenge from POST /api/v1/machine-identity/challenges.',
        );
      {
        const f =
          (await resolve(b.identityRef)) ??
          (() => {
            throw new ApiError('MACHINE_IDENTITY_PROOF_INVALID', 'identityRef does not resolve.');
          })();
        resolvedDid = f.did;
        const v = consume(
          state,
          b.identityProof,
          'machine-identity',
          b.identityRef,
          { invalid: 'MACHINE_IDENTITY_PROOF_INVALID', expired: 'MACHINE_IDENTITY_PROOF_EXPIRED' },
          f.controllers,
        );
        proof = {
          method: 'eip191',
          identityRef: b.identityRef,
          signerAddress: v.signer,
          challengeId: v.challenge.id,
          verifiedAt: new Date(clockMs(state)).toISOString(),
          challengeExpiresAt: v.challenge.expiresAt,
          controllerAddresses: f.controllers,
          resolutionSource: 'peaqos-mcr',
        };
      }
      const key = identityKey(b.identityRef, resolvedDid);
      for (const other of state.machines.values()) {
        if (identityKey(other.identityRef, state.identityDids.get(other.id)) === key)
          throw new ApiError(
            'MACHINE_IDENTITY_EXISTS',
            'A machine with this identity is already registered (as this identityRef or its other form).',
          );
      }
      const at = now(state);
      const m: Machine = {
        id: mockId(state, 'mch'),
        displayName: b.displayName,
        status: 'draft',
        ownerId: b.ownerId,
        identityRef: b.identityRef,
        identityProof: proof,
        machineType: b.machineType,
        runtimeProfile: b.runtimeProfile,
        capabilities: b.capabilities ?? [],
        labels: b.labels ?? {},
        policyIds: b.policyIds ?? [],
        skillKeys: b.skillKeys ?? [],
        createdAt: at,
        updatedAt: at,
      };
      state.machines.set(m.id, m);
      if (resolvedDid) state.identityDids.set(m.id, resolvedDid);
      audit(state, 'machine.created', 'machine', m.id, { identityRef: m.identityRef });
      return created({ item: m });
    },
    getMachine: async (state, req) => {
      const m = machine(state, req.params.machineId!);
      if (!(await resolves(m)))
        throw new ApiError('MACHINE_NOT_ACTIVATED', 'The machine identity no longer resolves through peaqOS MCR.');
      return ok({ item: m });
    },
    updateMachine: async (state, req) => {
      const m = machine(state, req.params.machineId!);
      const b = req.body;
      if (b.identityRef !== undefined && b.identityRef !== m.identityRef)
        throw new ApiError('MACHINE_IDENTITY_IMMUTABLE', 'identityRef cannot be changed once set.');
      if (b.identityProof) {
        const f = (await resolve(m.identityRef)) ?? gone('identityRef');
        const v = consume(
          state,
          b.identityProof,
          'machine-identity',
          m.identityRef,
          { invalid: 'MACHINE_IDENTITY_PROOF_INVALID', expired: 'MACHINE_IDENTITY_PROOF_EXPIRED' },
          f.controllers,
        );
        m.identityProof = {
          method: 'eip191',
          identityRef: m.identityRef,
          signerAddress: v.signer,
          challengeId: v.challenge.id,
          verifiedAt: new Date(clockMs(state)).toISOString(),
          challengeExpiresAt: v.challenge.expiresAt,
          controllerAddresses: f.controllers,
          resolutionSource: 'peaqos-mcr',
        };
      }
      if (b.status === 'active' && !m.identityProof)
        throw new ApiError('MACHINE_NOT_ACTIVATED', 'Only a machine with a verified identity can be activated.');
      if (
        b.status === 'archived' &&
        [...state.orders.values()].some(
          (o) => o.machineId === m.id && !CLOSED_ORDER_STATUSES.includes(o.status as OrderStatus),
        )
      )
        throw new ApiError('OPEN_MARKET_ORDERS', 'The machine has open market orders.');
      for (const k of [
        'displayName',
        'ownerId',
        'machineType',
        'runtimeProfile',
        'capabilities',
        'labels',
        'policyIds',
        'skillKeys',
        'status',
      ] as const)
        if (b[k] !== undefined) (m as Record<string, unknown>)[k] = b[k];
      m.updatedAt = now(state);
      audit(state, 'machine.updated', 'machine', m.id, { changed: Object.keys(b) });
      return ok({ item: m });
    },
  };
}
