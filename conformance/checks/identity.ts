import { Wallet } from 'ethers';
import type { Kit } from '../kit.ts';
import { STATELESS, type CheckContext } from './context.ts';

export function registerIdentity(kit: Kit, ctx: CheckContext): void {
  const { h, machineChallenge, register, activeMachine, machine, fx } = ctx;
  kit.group('identity', (check) => {
    check(
      'register with a signed DID-controller challenge; created as draft; activate; read back',
      async () => {
        const identity = fx.newMachine();
        const created = kit.ok(await register(identity), 'createMachine', 201);
        const m = created.body.item;
        kit.assert(m.status === 'draft', created, 'createMachine', 'a new machine is draft');
        kit.assert(
          m.identityProof?.signerAddress?.toLowerCase() === identity.wallet.address.toLowerCase(),
          created,
          'createMachine',
          `identityProof.signerAddress is the controller that signed (${STATELESS})`,
        );
        kit.ok(await h.send('PATCH', `/api/v1/machines/${m.id}`, { body: { status: 'active' } }), 'updateMachine', 200);
        const got = kit.ok(await h.send('GET', `/api/v1/machines/${m.id}`), 'getMachine', 200);
        kit.assert(got.body.item.status === 'active', got, 'getMachine', `the activation persists (${STATELESS})`);
        kit.assert(
          got.body.item.identityRef === identity.did && got.body.item.displayName === `conformance ${identity.mcrId}`,
          got,
          'getMachine',
          `GET returns what was registered (${STATELESS})`,
        );
      },
      { identity: true },
    );
    check(
      'a replayed challenge is refused',
      async () => {
        const identity = fx.newMachine();
        const c = await machineChallenge(identity.did);
        const signature = await identity.wallet.signMessage(c.body.item.message);
        const body = {
          displayName: 'replay',
          ownerId: 'kit',
          machineType: 't',
          runtimeProfile: 'r',
          identityRef: identity.did,
          identityProof: { challengeId: c.body.item.challengeId, signature },
        };
        const first = kit.ok(await h.send('POST', '/api/v1/machines', { body }), 'createMachine', 201);
        const replay = await h.send('PATCH', `/api/v1/machines/${first.body.item.id}`, {
          body: { identityProof: body.identityProof },
        });
        kit.error(replay, 'updateMachine', 'MACHINE_IDENTITY_PROOF_INVALID');
        const other = fx.newMachine();
        const again = await h.send('POST', '/api/v1/machines', { body: { ...body, identityRef: other.did } });
        kit.error(again, 'createMachine', 'MACHINE_IDENTITY_PROOF_INVALID');
      },
      { identity: true },
    );
    check(
      'a signature by another key, a missing proof and a duplicate identity are refused',
      async () => {
        const identity = fx.newMachine();
        kit.error(
          await register(identity, Wallet.createRandom() as unknown as Wallet),
          'createMachine',
          'MACHINE_IDENTITY_PROOF_INVALID',
        );
        kit.error(
          await h.send('POST', '/api/v1/machines', {
            body: {
              displayName: 'x',
              ownerId: 'kit',
              machineType: 't',
              runtimeProfile: 'r',
              identityRef: identity.did,
            },
          }),
          'createMachine',
          'MACHINE_IDENTITY_PROOF_REQUIRED',
        );
        kit.ok(await register(identity), 'createMachine', 201);
        kit.error(await register(identity), 'createMachine', 'MACHINE_IDENTITY_EXISTS');
      },
      { identity: true },
    );
    check(
      'identityRef is immutable (MACHINE_IDENTITY_IMMUTABLE); an unknown machine is 404',
      async () => {
        const m = await machine();
        kit.error(
          await h.send('PATCH', `/api/v1/machines/${m.id}`, { body: { identityRef: fx.newMachine().did } }),
          'updateMachine',
          'MACHINE_IDENTITY_IMMUTABLE',
        );
        kit.error(await h.send('GET', '/api/v1/machines/conformance-missing-machine'), 'getMachine', 'NOT_FOUND');
      },
      { identity: true },
    );
    check(
      'a machine that no longer resolves through MCR is MACHINE_NOT_ACTIVATED',
      async () => {
        const m = await activeMachine();
        fx.mcr!.registry.unregister(m.identity.mcrId);
        await new Promise((r) => setTimeout(r, kit.opts.mcrCacheWaitMs ?? 0));
        const r = await h.send('GET', `/api/v1/machines/${m.id}`);
        // A target that caches MCR answers still sees the machine: say how to give it time, not just that it failed.
        if (r.status === 200)
          kit.fail(
            r,
            'getMachine',
            'error code MACHINE_NOT_ACTIVATED once MCR no longer knows the machine',
            `200: the machine still resolves. If the target caches MCR answers, pass its cache time as --mcr-cache-wait-ms (${kit.opts.mcrCacheWaitMs ?? 0} ms now), or run it without the cache.`,
          );
        kit.error(r, 'getMachine', 'MACHINE_NOT_ACTIVATED');
      },
      { identity: true },
    );
    check(
      'an expired identity proof is refused',
      async () => {
        const identity = fx.newMachine();
        const c = await machineChallenge(identity.did);
        const wait = Date.parse(c.body.item.expiresAt) - Date.now();
        if (wait > 15_000)
          kit.skip(
            `the target's challenges live ${Math.round(wait / 1000)} s; start it with a short challenge TTL to exercise expiry`,
          );
        await new Promise((r) => setTimeout(r, Math.max(0, wait) + 300));
        const signature = await identity.wallet.signMessage(c.body.item.message);
        const r = await h.send('POST', '/api/v1/machines', {
          body: {
            displayName: 'late',
            ownerId: 'kit',
            machineType: 't',
            runtimeProfile: 'r',
            identityRef: identity.did,
            identityProof: { challengeId: c.body.item.challengeId, signature },
          },
        });
        kit.error(r, 'createMachine', 'MACHINE_IDENTITY_PROOF_EXPIRED');
      },
      { identity: true },
    );
  });
}
