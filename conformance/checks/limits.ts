import { Wallet } from 'ethers';
import type { Kit } from '../kit.ts';
import type { CheckContext } from './context.ts';

export function registerLimits(kit: Kit, ctx: CheckContext): void {
  const { h, machine } = ctx;
  kit.group('limits', (check) => {
    check(
      'past its challenge budget a client gets 429 RATE_LIMITED with Retry-After',
      async () => {
        const burst = kit.opts.rateLimitBurst;
        if (!burst) kit.skip("no --rate-limit-burst given (this check spends the target's budget for this client)");
        const m = await machine();
        for (let i = 0; i < burst; i++) {
          const r = await h.send('POST', `/api/v1/machines/${m.id}/agent-pairings/challenges`, {
            body: { agentAddress: Wallet.createRandom().address, agentProvider: 'conformance', agentRole: 'buyer' },
          });
          if (r.status === 429) {
            kit.error(r, 'createAgentPairingChallenge', 'RATE_LIMITED');
            return;
          }
          kit.ok(r, 'createAgentPairingChallenge', 201);
        }
        kit.assert(
          false,
          h.exchanges[h.exchanges.length - 1]!,
          'createAgentPairingChallenge',
          `429 RATE_LIMITED within ${burst} challenges`,
        );
      },
      { identity: true, designed: true },
    );
  });
}
