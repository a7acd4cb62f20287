// Machines and identity through HTTP: every error code, challenge replay and expiry, both identityRef forms,
// checksummed and lower-case addresses, re-verification, the activation rule, the three verification modes.
import { afterEach, describe, expect, it } from 'vitest';
import { Wallet } from 'ethers';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useMockMcr } from './helpers/mcr.ts';
import { activeMachine, machineBody, machineDid, machineProof, machineWallet } from './helpers/identity.ts';
import { OPERATOR_A, didOf, testWallet } from '../mocks/mcr/fixtures.ts';
import { engines } from './helpers/db.ts';

const registry = useMockMcr();
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});
const count = async (s: TestServer, table: string) => Number((await s.db(table).count({ n: '*' }))[0]!.n);

describe.each(engines())('machines and identity on $name', (engine) => {
  const start = (env: Record<string, string> = {}) => startTestServer({ engine, env });

  it('registers a machine with a DID-controller proof, created as draft', async () => {
    srv = await start();
    const ref = machineDid(1);
    const proof = await machineProof(srv.client, ref, machineWallet(1));
    const r = await srv.client.post(
      '/api/v1/machines',
      machineBody(ref, { identityProof: proof, labels: { site: 'hamburg' } }),
    );
    expect(r.status).toBe(201);
    expect(r.body.item).toMatchObject({ status: 'draft', identityRef: ref, labels: { site: 'hamburg' } });
    expect(r.body.item.identityProof).toMatchObject({
      method: 'eip191',
      identityRef: ref,
      signerAddress: machineWallet(1).address,
      challengeId: proof.challengeId,
      resolutionSource: 'peaqos-mcr',
      controllerAddresses: [machineWallet(1).address, OPERATOR_A.address],
    });
    const audit = await srv.client.get(`/api/v1/audit-events?type=machine.created&resourceId=${r.body.item.id}`);
    expect(audit.body.items).toHaveLength(1);
  });

  it('issues challenges that name the service, purpose, identity, id, nonce and times', async () => {
    srv = await start();
    const c = await srv.client.post('/api/v1/machine-identity/challenges', { identityRef: 'peaqos:machine:2' });
    expect(c.status).toBe(201);
    const { message, challengeId, expiresAt, controllerAddresses } = c.body.item;
    for (const part of [
      'peaqOS Machine Markets',
      'machine-identity',
      'peaqos:machine:2',
      challengeId,
      'Nonce:',
      'Issued At:',
      expiresAt,
    ])
      expect(message).toContain(part);
    expect(controllerAddresses).toEqual([machineWallet(2).address, OPERATOR_A.address]);
  });

  it('accepts the peaqos:machine:<id> form, lower-case DIDs, and the operator as signer', async () => {
    srv = await start();
    const pub = await srv.client.post(
      '/api/v1/machines',
      machineBody('peaqos:machine:2', {
        identityProof: await machineProof(srv.client, 'peaqos:machine:2', machineWallet(2)),
      }),
    );
    expect(pub.status).toBe(201);
    const lower = machineDid(3).toLowerCase();
    const low = await srv.client.post(
      '/api/v1/machines',
      machineBody(lower, { identityProof: await machineProof(srv.client, lower, machineWallet(3)) }),
    );
    expect(low.status).toBe(201);
    expect(low.body.item.identityProof.signerAddress).toBe(machineWallet(3).address);
    const byOperator = await srv.client.post(
      '/api/v1/machines',
      machineBody(machineDid(1), { identityProof: await machineProof(srv.client, machineDid(1), OPERATOR_A) }),
    );
    expect(byOperator.status).toBe(201);
    expect(byOperator.body.item.identityProof.signerAddress).toBe(OPERATOR_A.address);
  });

  it('refuses a machine without a proof, with a foreign signature, a replayed or an expired challenge', async () => {
    srv = await start();
    const ref = machineDid(1);
    const none = await srv.client.post('/api/v1/machines', machineBody(ref));
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('MACHINE_IDENTITY_PROOF_REQUIRED');

    const foreign = await srv.client.post(
      '/api/v1/machines',
      machineBody(ref, { identityProof: await machineProof(srv.client, ref, Wallet.createRandom()) }),
    );
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('MACHINE_IDENTITY_PROOF_INVALID');

    const garbage = await srv.client.post(
      '/api/v1/machines',
      machineBody(ref, { identityProof: { challengeId: 'mic_nope', signature: `0x${'11'.repeat(65)}` } }),
    );
    expect(garbage.body.error.code).toBe('MACHINE_IDENTITY_PROOF_INVALID');

    const otherRef = await machineProof(srv.client, machineDid(2), machineWallet(2));
    const crossed = await srv.client.post('/api/v1/machines', machineBody(ref, { identityProof: otherRef }));
    expect(crossed.body.error.code).toBe('MACHINE_IDENTITY_PROOF_INVALID');

    const expiring = await machineProof(srv.client, ref, machineWallet(1));
    srv.clock.advance(srv.config.machineIdentityChallengeTtlMs + 1);
    const expired = await srv.client.post('/api/v1/machines', machineBody(ref, { identityProof: expiring }));
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('MACHINE_IDENTITY_PROOF_EXPIRED');

    const proof = await machineProof(srv.client, ref, machineWallet(1));
    expect((await srv.client.post('/api/v1/machines', machineBody(ref, { identityProof: proof }))).status).toBe(201);
    const replay = await srv.client.post(
      '/api/v1/machines',
      machineBody(machineDid(1), { displayName: 'again', identityProof: proof }),
    );
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('MACHINE_IDENTITY_EXISTS');
    // The same challenge used for another update is refused as already consumed.
    const id = (await srv.client.get('/api/v1/machines')).body.items[0].id;
    const reused = await srv.client.patch(`/api/v1/machines/${id}`, { identityProof: proof });
    expect(reused.status).toBe(403);
    expect(reused.body.error.message).toMatch(/already been used/);
    expect(await count(srv, 'machines')).toBe(1);
  });

  it('registers one MCR machine once, whichever identityRef form comes first', async () => {
    srv = await start();
    const did = machineDid(1);
    expect(
      (
        await srv.client.post(
          '/api/v1/machines',
          machineBody(did, { identityProof: await machineProof(srv.client, did, machineWallet(1)) }),
        )
      ).status,
    ).toBe(201);
    const alias = await srv.client.post(
      '/api/v1/machines',
      machineBody('peaqos:machine:1', {
        identityProof: await machineProof(srv.client, 'peaqos:machine:1', machineWallet(1)),
      }),
    );
    expect(alias.status).toBe(409);
    expect(alias.body.error.code).toBe('MACHINE_IDENTITY_EXISTS');
    const lower = await srv.client.post(
      '/api/v1/machines',
      machineBody(did.toLowerCase(), {
        identityProof: await machineProof(srv.client, did.toLowerCase(), machineWallet(1)),
      }),
    );
    expect(lower.body.error.code).toBe('MACHINE_IDENTITY_EXISTS');
    // The other way round: the numeric form first, then the DID.
    expect(
      (
        await srv.client.post(
          '/api/v1/machines',
          machineBody('peaqos:machine:2', {
            identityProof: await machineProof(srv.client, 'peaqos:machine:2', machineWallet(2)),
          }),
        )
      ).status,
    ).toBe(201);
    const byDid = await srv.client.post(
      '/api/v1/machines',
      machineBody(machineDid(2), { identityProof: await machineProof(srv.client, machineDid(2), machineWallet(2)) }),
    );
    expect(byDid.body.error.code).toBe('MACHINE_IDENTITY_EXISTS');
    expect(await count(srv, 'machines')).toBe(2);
  });

  it('a challenge survives a rejected write and can be used once afterwards', async () => {
    srv = await start();
    await activeMachine(srv.client, 1);
    const proof = await machineProof(srv.client, machineDid(1), machineWallet(1));
    const dup = await srv.client.post('/api/v1/machines', machineBody(machineDid(1), { identityProof: proof }));
    expect(dup.body.error.code).toBe('MACHINE_IDENTITY_EXISTS');
    const id = (await srv.client.get('/api/v1/machines')).body.items[0].id;
    expect((await srv.client.patch(`/api/v1/machines/${id}`, { identityProof: proof })).status).toBe(200);
  });

  it('answers 404 for identities MCR does not know, 400 for malformed ones', async () => {
    srv = await start();
    const unknown = await srv.client.post('/api/v1/machine-identity/challenges', {
      identityRef: didOf(testWallet('stranger')),
    });
    expect(unknown.status).toBe(404);
    const zero = await srv.client.post('/api/v1/machine-identity/challenges', { identityRef: 'peaqos:machine:5' });
    expect(zero.status).toBe(404);
    const bad = await srv.client.post('/api/v1/machine-identity/challenges', { identityRef: 'did:web:example.com' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
  });

  it.each(['503', '429', 'hang'] as const)(
    'MCR %s gives PEAQOS_IDENTITY_UNAVAILABLE and persists nothing',
    async (mode) => {
      srv = await start();
      const ref = machineDid(1);
      const proof = await machineProof(srv.client, ref, machineWallet(1));
      registry.setFailure(mode);
      const r = await srv.client.post('/api/v1/machines', machineBody(ref, { identityProof: proof }));
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('PEAQOS_IDENTITY_UNAVAILABLE');
      expect((await srv.client.post('/api/v1/machine-identity/challenges', { identityRef: ref })).body.error.code).toBe(
        'PEAQOS_IDENTITY_UNAVAILABLE',
      );
      expect(await count(srv, 'machines')).toBe(0);
      registry.setFailure('none');
      // The challenge was not consumed by the failed attempt.
      expect((await srv.client.post('/api/v1/machines', machineBody(ref, { identityProof: proof }))).status).toBe(201);
    },
  );

  it('re-verifies on read: a machine that no longer resolves is MACHINE_NOT_ACTIVATED and drops out of the list', async () => {
    srv = await start();
    const m1 = await activeMachine(srv.client, 1);
    const m2 = await activeMachine(srv.client, 2);
    expect((await srv.client.get(`/api/v1/machines/${m1.id}`)).status).toBe(200);
    registry.unregister(1);
    const gone = await srv.client.get(`/api/v1/machines/${m1.id}`);
    expect(gone.status).toBe(403);
    expect(gone.body.error.code).toBe('MACHINE_NOT_ACTIVATED');
    const list = await srv.client.get('/api/v1/machines');
    expect(list.body.items.map((m: { id: string }) => m.id)).toEqual([m2.id]);
    // A controller change (new wallet behind the same machine id) also breaks the stored proof.
    registry.update(2, { wallet: testWallet('machine:2:rotated'), operator: null });
    expect((await srv.client.get(`/api/v1/machines/${m2.id}`)).body.error.code).toBe('MACHINE_NOT_ACTIVATED');
    expect((await srv.client.get('/api/v1/machines')).body.items).toEqual([]);
    expect((await srv.client.get('/api/v1/machines/mch_missing')).status).toBe(404);
    registry.setFailure('503');
    expect((await srv.client.get('/api/v1/machines')).body.error.code).toBe('PEAQOS_IDENTITY_UNAVAILABLE');
  });

  it('pages the machine list over several pages with no duplicates', async () => {
    srv = await start();
    for (const id of [1, 2, 3, 4, 6]) await activeMachine(srv.client, id);
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const r = await srv.client.get(`/api/v1/machines?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...r.body.items.map((m: { id: string }) => m.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
  });

  it('keeps identityRef immutable and re-verifies on update', async () => {
    srv = await start();
    const m = await activeMachine(srv.client, 1);
    const imm = await srv.client.patch(`/api/v1/machines/${m.id}`, { identityRef: machineDid(2) });
    expect(imm.status).toBe(409);
    expect(imm.body.error.code).toBe('MACHINE_IDENTITY_IMMUTABLE');
    const same = await srv.client.patch(`/api/v1/machines/${m.id}`, {
      identityRef: m.identityRef,
      displayName: 'Renamed',
    });
    expect(same.status).toBe(200);
    expect(same.body.item.displayName).toBe('Renamed');
    const foreign = await srv.client.patch(`/api/v1/machines/${m.id}`, {
      identityProof: await machineProof(srv.client, m.identityRef, Wallet.createRandom()),
    });
    expect(foreign.body.error.code).toBe('MACHINE_IDENTITY_PROOF_INVALID');
    registry.setFailure('503');
    expect((await srv.client.patch(`/api/v1/machines/${m.id}`, { displayName: 'x' })).body.error.code).toBe(
      'PEAQOS_IDENTITY_UNAVAILABLE',
    );
    registry.setFailure('none');
    registry.unregister(1);
    expect((await srv.client.patch(`/api/v1/machines/${m.id}`, { displayName: 'x' })).body.error.code).toBe(
      'MACHINE_NOT_ACTIVATED',
    );
    const row = await srv.db('machines').where({ id: m.id }).first();
    expect(row.display_name).toBe('Renamed');
    const updates = await srv.client.get(`/api/v1/audit-events?type=machine.updated&resourceId=${m.id}`);
    expect(updates.body.items.length).toBe(2);
    expect(JSON.stringify(updates.body)).not.toMatch(/signature/i);
  });

  it('optional mode: registers without a proof, refuses to activate it, verifies a proof when given', async () => {
    srv = await start({ PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'optional' });
    const plain = await srv.client.post('/api/v1/machines', machineBody(machineDid(1)));
    expect(plain.status).toBe(201);
    expect(plain.body.item.identityProof).toBeNull();
    const act = await srv.client.patch(`/api/v1/machines/${plain.body.item.id}`, { status: 'active' });
    expect(act.status).toBe(403);
    expect(act.body.error.code).toBe('MACHINE_NOT_ACTIVATED');
    const proof = await machineProof(srv.client, machineDid(1), machineWallet(1));
    const fixed = await srv.client.patch(`/api/v1/machines/${plain.body.item.id}`, {
      status: 'active',
      identityProof: proof,
    });
    expect(fixed.status).toBe(200);
    expect(fixed.body.item.status).toBe('active');
    const bad = await srv.client.post(
      '/api/v1/machines',
      machineBody(machineDid(2), {
        identityProof: await machineProof(srv.client, machineDid(2), Wallet.createRandom()),
      }),
    );
    expect(bad.body.error.code).toBe('MACHINE_IDENTITY_PROOF_INVALID');
  });

  it('disabled mode: never calls MCR and activates without a proof', async () => {
    srv = await start({ PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' });
    registry.setFailure('503');
    const r = await srv.client.post('/api/v1/machines', machineBody(machineDid(1)));
    expect(r.status).toBe(201);
    expect((await srv.client.patch(`/api/v1/machines/${r.body.item.id}`, { status: 'active' })).body.item.status).toBe(
      'active',
    );
    expect((await srv.client.get('/api/v1/machines')).body.items).toHaveLength(1);
    expect(srv.services.mcr.requestsSent).toBe(0);
  });

  it('the machine guard: NOT_FOUND, MACHINE_NOT_ACTIVATED, MACHINE_NOT_ACTIVE, bonded', async () => {
    srv = await start({ PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'optional' });
    const guard = (id: string, bonded = false) => srv!.services.machines.requireActive(id, { bonded });
    await expect(guard('mch_nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const unverified = (await srv.client.post('/api/v1/machines', machineBody(machineDid(3)))).body.item;
    await expect(guard(unverified.id)).rejects.toMatchObject({ code: 'MACHINE_NOT_ACTIVATED' });
    const draft = (
      await srv.client.post(
        '/api/v1/machines',
        machineBody(machineDid(1), { identityProof: await machineProof(srv.client, machineDid(1), machineWallet(1)) }),
      )
    ).body.item;
    await expect(guard(draft.id)).rejects.toMatchObject({ code: 'MACHINE_NOT_ACTIVE' });
    await srv.client.patch(`/api/v1/machines/${draft.id}`, { status: 'active' });
    await expect(guard(draft.id, true)).resolves.toMatchObject({ machine: { id: draft.id } });
    const unbonded = await activeMachine(srv.client, 4);
    await expect(guard(unbonded.id)).resolves.toBeTruthy();
    await expect(guard(unbonded.id, true)).rejects.toMatchObject({ code: 'MACHINE_NOT_ACTIVE' });
    registry.unregister(1);
    await expect(guard(draft.id)).rejects.toMatchObject({ code: 'MACHINE_NOT_ACTIVATED' });
  });
});
