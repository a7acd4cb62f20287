// Machine records and their identity. Rules:
// - created `draft`; `PATCH {status: "active"}` activates only with a verified identity (else MACHINE_NOT_ACTIVATED);
// - identityRef is immutable; the stored proof is re-verified against MCR on every read and update;
// - GET /machines lists only machines whose identityRef resolves and whose stored proof still matches MCR;
// - PEAQOS_MACHINE_IDENTITY_VERIFICATION: required (proof on create), optional (verified when given), disabled.
import { withTransaction } from '../../store/tx.ts';
import { isUniqueViolation } from '../../store/busy.ts';
import type { Knex } from 'knex';
import { andThen, type Awaitable } from '../../awaitable.ts';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { ApiError, notFound } from '../../errors.ts';
import { encodeCursor, type Page, type PageQuery } from '../../store/pages.ts';
import { recordAudit } from '../audit/service.ts';
import { canonicalDid, type IdentityResolution, type McrClient } from '../../identity/mcr-client.ts';
import { consumeProof, issueChallenge, MACHINE_PROOF_CODES } from '../../identity/challenges.ts';
import {
  findMachine,
  machineWithIdentity,
  insertMachine,
  readMachine,
  readMachinePage,
  updateMachineRow,
} from './repo.ts';
import type { PreparedReads } from '../../store/prepared.ts';
import type { Machine, MachineIdentityProof } from './types.ts';
import type { CreateMachineRequest, UpdateMachineRequest } from '../../../generated/types.gen.ts';

// Request bodies are the contract's own types (generated from openapi.yaml).
export type { ProofInput } from '../../../generated/types.gen.ts';
export type CreateMachineInput = CreateMachineRequest;
export type UpdateMachineInput = UpdateMachineRequest;

/**
 * What machines need from other modules, as required ports (machines imports neither): that policies exist, and
 * whether a machine has open orders (which blocks archiving it).
 */
export interface MachinesServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  mcr: McrClient;
  /** Reads outside transactions (get, list, the guard): prepared statements on the read-only handle where there is one. */
  reads: PreparedReads;
  assertPoliciesExist(trx: Knex.Transaction, policyIds: string[]): Promise<void>;
  hasOpenOrders(trx: Knex.Transaction, machineId: string): Promise<boolean>;
}

const uniq = (xs: string[] | undefined) => [...new Set(xs ?? [])];

export class MachinesService {
  private readonly db: Knex;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly mcr: McrClient;
  private readonly reads: PreparedReads;
  private readonly ports: Pick<MachinesServiceDeps, 'assertPoliciesExist' | 'hasOpenOrders'>;

  constructor(deps: MachinesServiceDeps) {
    ({ db: this.db, config: this.config, clock: this.clock, mcr: this.mcr } = deps);
    this.reads = deps.reads;
    this.ports = { assertPoliciesExist: deps.assertPoliciesExist, hasOpenOrders: deps.hasOpenOrders };
  }

  get verification() {
    return this.config.machineIdentityVerification;
  }

  async createChallenge(identityRef: string) {
    const resolution = await this.mcr.resolve(identityRef);
    if (!resolution) throw new ApiError('NOT_FOUND', 'identityRef does not resolve through peaqOS MCR.');
    const c = await issueChallenge(this.db, {
      purpose: 'machine-identity',
      subject: identityRef,
      subjectLabel: 'Identity',
      payload: { controllerAddresses: resolution.controllerAddresses },
      now: this.clock.now(),
      ttlMs: this.config.machineIdentityChallengeTtlMs,
    });
    return {
      challengeId: c.id,
      identityRef,
      message: c.message,
      expiresAt: c.expiresAt,
      verificationMethod: 'eip191' as const,
      controllerAddresses: resolution.controllerAddresses,
    };
  }

  private async resolveOrFail(
    identityRef: string,
    code: 'MACHINE_IDENTITY_PROOF_INVALID' | 'MACHINE_NOT_ACTIVATED',
  ): Promise<IdentityResolution> {
    const r = await this.mcr.resolve(identityRef);
    if (!r) throw new ApiError(code, 'identityRef does not resolve through peaqOS MCR.');
    return r;
  }

  private proofFrom(
    identityRef: string,
    resolution: IdentityResolution,
    verified: { challenge: { id: string; expiresAt: string }; signerAddress: string },
    now: Date,
  ): MachineIdentityProof {
    return {
      method: 'eip191',
      identityRef,
      signerAddress: verified.signerAddress,
      challengeId: verified.challenge.id,
      verifiedAt: now.toISOString(),
      challengeExpiresAt: verified.challenge.expiresAt,
      controllerAddresses: resolution.controllerAddresses,
      resolutionSource: 'peaqos-mcr',
    };
  }

  /** Does the stored proof still match MCR? false when the identity no longer resolves or its signer lost control. */
  /** storedProofHolds from MCR's cached answer, when there is a fresh one; undefined when MCR must be asked. */
  private cachedProofHolds(m: Machine): boolean | undefined {
    if (!m.identityProof) return false;
    const resolution = this.mcr.cached(m.identityRef);
    return resolution === undefined ? undefined : proofHolds(m, resolution);
  }

  private async storedProofHolds(m: Machine): Promise<{ holds: boolean; resolution: IdentityResolution | null }> {
    if (!m.identityProof) return { holds: false, resolution: null };
    const resolution = await this.mcr.resolve(m.identityRef);
    return { holds: proofHolds(m, resolution), resolution };
  }

  async create(input: CreateMachineInput): Promise<Machine> {
    const now = this.clock.now();
    const mode = this.verification;
    if (mode === 'required' && !input.identityProof) {
      throw new ApiError(
        'MACHINE_IDENTITY_PROOF_REQUIRED',
        'identityProof is required: sign a challenge from POST /api/v1/machine-identity/challenges.',
      );
    }
    const verify = mode !== 'disabled' && !!input.identityProof;
    const resolution = verify ? await this.resolveOrFail(input.identityRef, 'MACHINE_IDENTITY_PROOF_INVALID') : null;

    // A concurrent registration of the same identity passes the look-up below and loses on the unique index.
    const exists = () =>
      new ApiError(
        'MACHINE_IDENTITY_EXISTS',
        'A machine with this identity is already registered (as this identityRef or its other form).',
      );
    const identityKey = resolution
      ? canonicalDid(resolution.did)
      : /^did:peaq:/.test(input.identityRef)
        ? canonicalDid(input.identityRef)
        : null;
    return withTransaction(this.db, async (trx) => {
      // One MCR machine registers once, under either identityRef form.
      const refs = resolution
        ? [
            input.identityRef,
            resolution.did,
            ...(resolution.machineId ? [`peaqos:machine:${resolution.machineId}`] : []),
          ]
        : [input.identityRef];
      if (await machineWithIdentity(trx, refs, identityKey)) {
        throw new ApiError('MACHINE_IDENTITY_EXISTS', 'A machine with this identityRef is already registered.');
      }
      await this.ports.assertPoliciesExist(trx, uniq(input.policyIds));
      let proof: MachineIdentityProof | null = null;
      if (verify && resolution && input.identityProof) {
        const verified = await consumeProof(trx, {
          proof: input.identityProof,
          purpose: 'machine-identity',
          subject: input.identityRef,
          allowedSigners: resolution.controllerAddresses,
          now,
          codes: MACHINE_PROOF_CODES,
        });
        proof = this.proofFrom(input.identityRef, resolution, verified, now);
      }
      const at = now.toISOString();
      const machine: Machine = {
        id: newId('mch', now.getTime()),
        displayName: input.displayName,
        status: 'draft',
        ownerId: input.ownerId,
        identityRef: input.identityRef,
        identityProof: proof,
        machineType: input.machineType,
        runtimeProfile: input.runtimeProfile,
        capabilities: uniq(input.capabilities),
        labels: input.labels ?? {},
        policyIds: uniq(input.policyIds),
        skillKeys: uniq(input.skillKeys),
        createdAt: at,
        updatedAt: at,
      };
      await insertMachine(trx, machine, identityKey);
      await recordAudit(trx, {
        type: 'machine.created',
        resourceType: 'machine',
        resourceId: machine.id,
        payload: {
          identityRef: machine.identityRef,
          status: machine.status,
          verified: !!proof,
          signerAddress: proof?.signerAddress ?? null,
        },
        at,
      });
      return machine;
    }).catch((err: unknown) => {
      throw isUniqueViolation(err) ? exists() : err;
    });
  }

  /**
   * GET /machines/{id}: re-verifies the stored proof on every read. Answered now (no promise) when the row is read
   * synchronously and MCR's answer is cached; a throw is then a throw now (awaitable.ts).
   */
  get(id: string): Awaitable<Machine> {
    return andThen(readMachine(this.reads, id), (m) => {
      if (!m) throw notFound('Machine');
      if (this.verification === 'disabled' || !m.identityProof) return m;
      const cached = this.cachedProofHolds(m);
      return cached === undefined
        ? this.storedProofHolds(m).then((check) => stillActivated(m, check.holds))
        : stillActivated(m, cached);
    });
  }

  async list(page: PageQuery): Promise<Page<Machine>> {
    if (this.verification === 'disabled') return this.scan(page, () => true);
    return this.scan(page, (m) => this.cachedProofHolds(m) ?? this.storedProofHolds(m).then((r) => r.holds));
  }

  /** Pages over machines in (createdAt, id) order, keeping those `keep` accepts, until the page is full. */
  private async scan(page: PageQuery, keep: (m: Machine) => boolean | Promise<boolean>): Promise<Page<Machine>> {
    const items: Machine[] = [];
    let after = page.cursor;
    const batch = Math.min(500, page.limit + 1);
    for (;;) {
      const rows = await readMachinePage(this.reads, after, batch);
      const verdicts = await mapLimit(rows, 8, keep);
      for (let i = 0; i < rows.length; i++) {
        if (!verdicts[i]) continue;
        if (items.length === page.limit) {
          const last = items[items.length - 1]!;
          return { items, nextCursor: encodeCursor(last.createdAt, last.id) };
        }
        items.push(rows[i]!);
      }
      if (rows.length < batch) return { items };
      const last = rows[rows.length - 1]!;
      after = { t: last.createdAt, i: last.id };
    }
  }

  async update(id: string, input: UpdateMachineInput): Promise<Machine> {
    const now = this.clock.now();
    const current = await findMachine(this.db, id);
    if (!current) throw notFound('Machine');
    if (input.identityRef !== undefined && input.identityRef !== current.identityRef) {
      throw new ApiError('MACHINE_IDENTITY_IMMUTABLE', 'identityRef cannot be changed once set.');
    }
    const mode = this.verification;
    let resolution: IdentityResolution | null = null;
    if (mode !== 'disabled') {
      if (input.identityProof) {
        resolution = await this.resolveOrFail(current.identityRef, 'MACHINE_IDENTITY_PROOF_INVALID');
      } else if (current.identityProof) {
        const check = await this.storedProofHolds(current);
        if (!check.resolution)
          throw new ApiError('MACHINE_NOT_ACTIVATED', 'The machine identity no longer resolves through peaqOS MCR.');
        if (!check.holds)
          throw new ApiError(
            'MACHINE_IDENTITY_PROOF_INVALID',
            'The stored proof no longer recovers to an MCR controller: submit a fresh identityProof.',
          );
      } else if (mode === 'required') {
        throw new ApiError(
          'MACHINE_IDENTITY_PROOF_REQUIRED',
          'This machine has no verified identity: include identityProof.',
        );
      }
    }

    return withTransaction(this.db, async (trx) => {
      const m = await findMachine(trx, id, true);
      if (!m) throw notFound('Machine');
      let proof = m.identityProof;
      if (resolution && input.identityProof) {
        const verified = await consumeProof(trx, {
          proof: input.identityProof,
          purpose: 'machine-identity',
          subject: m.identityRef,
          allowedSigners: resolution.controllerAddresses,
          now,
          codes: MACHINE_PROOF_CODES,
        });
        proof = this.proofFrom(m.identityRef, resolution, verified, now);
      }
      if (input.policyIds) await this.ports.assertPoliciesExist(trx, uniq(input.policyIds));
      const status = input.status ?? m.status;
      if (status === 'active' && m.status !== 'active' && mode !== 'disabled' && !proof) {
        throw new ApiError(
          'MACHINE_NOT_ACTIVATED',
          'Only a machine with a verified identity can be activated: submit identityProof.',
        );
      }
      if (status === 'archived' && m.status !== 'archived' && (await this.ports.hasOpenOrders(trx, m.id))) {
        throw new ApiError(
          'OPEN_MARKET_ORDERS',
          'The machine has open market orders: settle or cancel them before archiving.',
        );
      }
      const next: Machine = {
        ...m,
        displayName: input.displayName ?? m.displayName,
        ownerId: input.ownerId ?? m.ownerId,
        machineType: input.machineType ?? m.machineType,
        runtimeProfile: input.runtimeProfile ?? m.runtimeProfile,
        capabilities: input.capabilities ? uniq(input.capabilities) : m.capabilities,
        labels: input.labels ?? m.labels,
        policyIds: input.policyIds ? uniq(input.policyIds) : m.policyIds,
        skillKeys: input.skillKeys ? uniq(input.skillKeys) : m.skillKeys,
        identityProof: proof,
        status,
        updatedAt: now.toISOString(),
      };
      await updateMachineRow(trx, next);
      const changed = Object.keys(input).filter((k) => k !== 'identityProof' && k !== 'identityRef');
      await recordAudit(trx, {
        type: 'machine.updated',
        resourceType: 'machine',
        resourceId: m.id,
        payload: { changed, fromStatus: m.status, status, reverified: !!input.identityProof },
        at: next.updatedAt,
      });
      return next;
    });
  }

  /**
   * The guard every machine-bound route uses: the machine exists, its identity is verified and still resolves
   * (unless verification is disabled), and it is active. Returns the machine and its MCR resolution.
   */
  async requireActive(
    id: string,
    opts: { bonded?: boolean; unverifiedCode?: 'MACHINE_NOT_ACTIVATED' | 'MACHINE_IDENTITY_PROOF_REQUIRED' } = {},
  ): Promise<{ machine: Machine; resolution: IdentityResolution | null }> {
    const m = await readMachine(this.reads, id);
    if (!m) throw notFound('Machine');
    let resolution: IdentityResolution | null = null;
    if (this.verification !== 'disabled') {
      if (!m.identityProof)
        throw new ApiError(
          opts.unverifiedCode ?? 'MACHINE_NOT_ACTIVATED',
          'The machine has no verified identity: register a DID-controller proof first.',
        );
      const check = await this.storedProofHolds(m);
      stillActivated(m, check.holds);
      resolution = check.resolution;
    }
    if (m.status !== 'active') throw new ApiError('MACHINE_NOT_ACTIVE', `The machine is ${m.status}, not active.`);
    if (opts.bonded) {
      resolution ??= await this.mcr.resolve(m.identityRef);
      if (!resolution || resolution.bondStatus !== 'bonded')
        throw new ApiError('MACHINE_NOT_ACTIVE', 'The machine is not bonded on peaqOS.');
    }
    return { machine: m, resolution };
  }
}

/** The machine, when its stored proof still holds (GET /machines/{id}, the guard); MACHINE_NOT_ACTIVATED otherwise. */
function stillActivated(m: Machine, holds: boolean): Machine {
  if (!holds)
    throw new ApiError(
      'MACHINE_NOT_ACTIVATED',
      'The machine identity no longer resolves to its verified controller through peaqOS MCR.',
    );
  return m;
}

/** Whether the machine's stored proof was signed by a controller MCR names now (none when MCR knows no such machine). */
function proofHolds(m: Machine, resolution: IdentityResolution | null): boolean {
  if (!m.identityProof || !resolution) return false;
  const signer = m.identityProof.signerAddress.toLowerCase();
  return resolution.controllerAddresses.some((a) => a.toLowerCase() === signer);
}

/** fn over items, at most `limit` of its promises at once; values it returns directly are taken as they are. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => R | Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  const pending: { i: number; p: Promise<R> }[] = [];
  let next = 0;
  // Directly answered items cost no promise; the rest wait for a worker.
  const take = (): { i: number; p: Promise<R> } | undefined => {
    while (next < items.length) {
      const i = next++;
      const r = fn(items[i]!);
      if (r instanceof Promise) return { i, p: r };
      out[i] = r;
    }
    return undefined;
  };
  for (let first = take(); first; first = pending.length < limit ? take() : undefined) pending.push(first);
  if (pending.length === 0) return out;
  const workers = pending.map(async (job) => {
    for (let j: typeof job | undefined = job; j; j = take()) out[j.i] = await j.p;
  });
  await Promise.all(workers);
  return out;
}
