import { Wallet } from 'ethers';
import type { Kit } from '../kit.ts';
import type { CheckContext } from './context.ts';

export function registerCodes(kit: Kit, ctx: CheckContext): void {
  const { h, tokenHeader, activeMachine, pairAgent, machine, fx } = ctx;
  kit.group('codes', (check) => {
    check(
      'spend limits: over the per-transaction limit is AGENT_SPEND_LIMIT_EXCEEDED, over the day is AGENT_DAILY_LIMIT_EXCEEDED',
      async () => {
        const m = await machine();
        const paired = await pairAgent(m.id, { perTransactionLimit: 5, dailySpendLimit: 6 });
        const t = tokenHeader(paired.token);
        const services = kit.ok(await h.send('GET', '/api/v1/market/services?limit=500'), 'listMarketServices', 200)
          .body.items as Array<{ id: string; pricing: { mode: string }; integrationStatus: string }>;
        const open = services.find((x) => x.pricing.mode !== 'fixed' && x.integrationStatus !== 'docs-only');
        if (!open) kit.skip('the target catalogue has no service without a fixed price to budget');
        const buy = (amount: number) =>
          h.send('POST', '/api/v1/market/orders', {
            body: { machineId: m.id, serviceId: open.id, budget: { amount } },
            headers: t,
          });
        kit.error(await buy(5.5), 'createMarketOrder', 'AGENT_SPEND_LIMIT_EXCEEDED');
        kit.ok(await buy(4), 'createMarketOrder', 201);
        kit.error(await buy(4), 'createMarketOrder', 'AGENT_DAILY_LIMIT_EXCEEDED');
        // The pairing has an open order: revoking it is refused.
        kit.error(
          await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/${paired.id}/revoke`),
          'revokeAgentPairing',
          'OPEN_MARKET_ORDERS',
        );
      },
      { identity: true },
    );
    check(
      'an Idempotency-Key reused with another request is 422 IDEMPOTENCY_KEY_REUSED; the same request is replayed',
      async () => {
        const key = `kit-${Math.random().toString(36).slice(2)}`;
        const first = kit.ok(
          await h.send('POST', '/api/v1/policies', {
            body: { name: `${key} one` },
            headers: { 'idempotency-key': key },
          }),
          'createPolicy',
          201,
        );
        const again = kit.ok(
          await h.send('POST', '/api/v1/policies', {
            body: { name: `${key} one` },
            headers: { 'idempotency-key': key },
          }),
          'createPolicy',
          201,
        );
        kit.assert(
          again.body.item.id === first.body.item.id,
          again,
          'createPolicy',
          'the same key and request answer the first result again (no second policy)',
        );
        kit.error(
          await h.send('POST', '/api/v1/policies', {
            body: { name: `${key} two` },
            headers: { 'idempotency-key': key },
          }),
          'createPolicy',
          'IDEMPOTENCY_KEY_REUSED',
        );
      },
      { designed: true },
    );
    check(
      'an archived machine is MACHINE_NOT_ACTIVE for pairing; MCR down is PEAQOS_IDENTITY_UNAVAILABLE and AGENT_PAIRING_UNAVAILABLE',
      async () => {
        const m = await activeMachine();
        kit.ok(
          await h.send('PATCH', `/api/v1/machines/${m.id}`, { body: { status: 'archived' } }),
          'updateMachine',
          200,
        );
        const agent = Wallet.createRandom() as unknown as Wallet;
        kit.error(
          await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/challenges`, {
            body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer' },
          }),
          'createAgentPairingChallenge',
          'MACHINE_NOT_ACTIVE',
        );
        const live = await machine();
        fx.mcr!.registry.setFailure('503');
        try {
          await new Promise((r) => setTimeout(r, kit.opts.mcrCacheWaitMs ?? 0));
          kit.error(await h.send('GET', `/api/v1/machines/${live.id}`), 'getMachine', 'PEAQOS_IDENTITY_UNAVAILABLE');
          kit.error(
            await h.send('POST', `/api/v1/machines/${live.id}/agent-pairings/challenges`, {
              body: { agentAddress: agent.address, agentProvider: 'conformance', agentRole: 'buyer' },
            }),
            'createAgentPairingChallenge',
            'AGENT_PAIRING_UNAVAILABLE',
          );
        } finally {
          fx.mcr!.registry.setFailure('none');
        }
      },
      { identity: true, designed: true },
    );
  });
}
