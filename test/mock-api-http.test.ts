// The frontend mock served over real HTTP (npm run mock:api) passes the conformance kit's documented profile.
import { describe, expect, it } from 'vitest';
import { startMachineMarketsHttp } from '../mocks/machine-markets/node.ts';
import { runConformance } from '../conformance/run.ts';
import { freePort } from './helpers/ports.ts';

describe('Machine Markets mock over HTTP', () => {
  it('passes the conformance documented profile, resolving new identities through the kit\'s mock MCR', async () => {
    const mcrPort = await freePort();
    const mock = await startMachineMarketsHttp({ mcrUrl: `http://127.0.0.1:${mcrPort}` });
    try {
      const rep = await runConformance({ baseUrl: mock.url, profile: 'documented', mcrPort });
      const failures = rep.results.filter((r) => r.status === 'fail');
      expect(failures, JSON.stringify(failures, null, 2)).toEqual([]);
      expect(rep.summary.passed).toBeGreaterThan(20);
    } finally {
      await mock.close();
    }
  }, 60_000);
});
