// The frontend mock served over real HTTP (peaqos-mock-api) passes the conformance kit: the documented profile and
// the reference profile (same limits, codes and input rules as the server).
import { describe, expect, it } from 'vitest';
import { startMachineMarketsHttp } from '../mocks/machine-markets/node.ts';
import { runConformance } from '../conformance/run.ts';
import { freePort } from './helpers/ports.ts';

describe('Machine Markets mock over HTTP', () => {
  it("passes the conformance documented profile, resolving new identities through the kit's mock MCR", async () => {
    const mcrPort = await freePort();
    const mock = await startMachineMarketsHttp({ mcrUrl: `http://127.0.0.1:${mcrPort}` });
    try {
      const rep = await runConformance({ baseUrl: mock.url, profile: 'documented', mcrPort });
      const failures = rep.results.filter((r) => r.status === 'fail');
      expect(failures, JSON.stringify(failures, null, 2)).toEqual([]);
      expect(rep.summary.passed).toBeGreaterThan(20);
      const reference = await runConformance({ baseUrl: mock.url, profile: 'reference', mcrPort });
      const refFailures = reference.results.filter((r) => r.status === 'fail');
      expect(refFailures, JSON.stringify(refFailures, null, 2)).toEqual([]);
      expect(reference.summary.passed).toBeGreaterThan(30);
    } finally {
      await mock.close();
    }
  }, 120_000);
});
