// Background work in replicas: the cluster lease lets one holder at a time run a round, hands over when the
// holder stops renewing, and the runtime prober of two replicas on one store probes once per round.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { engines, openTestStore } from './helpers/db.ts';
import { ClusterLease } from '../src/store/lease.ts';
import type { RuntimeService } from '../src/modules/runtime/service.ts';
import { RuntimeProber } from '../src/modules/runtime/prober.ts';

describe.each(engines())('cluster lease on $name', (engine) => {
  it('one holder at a time; renewals keep it; expiry and release hand it over', async () => {
    const { db, drop } = await openTestStore(engine);
    let now = Date.parse('2026-05-01T00:00:00.000Z');
    const a = new ClusterLease(db, () => now);
    const b = new ClusterLease(db, () => now);
    try {
      const both = await Promise.all([a.acquire('job', 1_000), b.acquire('job', 1_000)]);
      expect(both.filter(Boolean)).toHaveLength(1);
      const [holder, other] = both[0] ? [a, b] : [b, a];
      now += 900;
      expect(await holder.acquire('job', 1_000)).toBe(true);
      expect(await other.acquire('job', 1_000)).toBe(false);
      now += 1_001; // the holder stopped renewing
      expect(await other.acquire('job', 1_000)).toBe(true);
      expect(await holder.acquire('job', 1_000)).toBe(false);
      await other.release('job');
      expect(await holder.acquire('job', 1_000)).toBe(true);
    } finally {
      await drop();
    }
  });

  it("two replicas' probers run one probe round between them", async () => {
    const { db, drop } = await openTestStore(engine);
    let probes = 0;
    const runtime = { probeAll: async () => ++probes } as unknown as RuntimeService;
    const logger = pino({ level: 'silent' });
    const p1 = new RuntimeProber({ runtime, intervalMs: 1_000, logger, lease: new ClusterLease(db) });
    const p2 = new RuntimeProber({ runtime, intervalMs: 1_000, logger, lease: new ClusterLease(db) });
    try {
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all([p1.round(), p2.round()]);
        expect(results.filter((r) => r !== null)).toHaveLength(1);
      }
      expect(probes).toBe(5);
      await p1.stop();
      await p2.stop();
    } finally {
      await drop();
    }
  });
});
