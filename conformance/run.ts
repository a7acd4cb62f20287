// Programmatic entry: runs the whole suite against a base URL and returns the report.
import { KitHttp } from './http.ts';
import { Kit, type CheckResult } from './kit.ts';
import { validatorFor, type Profile } from './spec-profile.ts';
import { Fixtures } from './fixtures.ts';
import { registerChecks, GROUPS } from './checks/index.ts';
import { buildReport, type Report } from './report.ts';

export interface RunOptions {
  baseUrl: string;
  apiKey?: string;
  profile?: Profile;
  only?: string[];
  seed?: number;
  mcrPort?: number;
  identity?: boolean;
  mcrCacheWaitMs?: number;
  /** Per-request timeout (default 15 s). */
  timeoutMs?: number;
  agentApiKey?: string;
  rateLimitBurst?: number;
  onGroup?: (g: string) => void;
  onResult?: (r: CheckResult) => void;
  /** Called once the mock MCR listens, before any check runs. */
  onMcr?: (url: string) => void | Promise<void>;
}

export { GROUPS };

export async function runConformance(o: RunOptions): Promise<Report> {
  const started = new Date();
  const identity = o.identity ?? true;
  const fx = await Fixtures.start({ mcrPort: o.mcrPort, identity });
  try {
    if (fx.mcr) await o.onMcr?.(fx.mcr.url);
    const profile = o.profile ?? 'reference';
    const kit = new Kit(new KitHttp(o.baseUrl.replace(/\/+$/, ''), o.apiKey, o.timeoutMs), validatorFor(profile), {
      profile,
      identity,
      only: o.only,
      seed: o.seed ?? 1,
      apiKeyGiven: !!o.apiKey,
      mcrCacheWaitMs: o.mcrCacheWaitMs,
      agentApiKey: o.agentApiKey,
      rateLimitBurst: o.rateLimitBurst,
      onGroup: o.onGroup,
      onResult: o.onResult,
    });
    registerChecks(kit, fx);
    await kit.run();
    return buildReport(kit, o.baseUrl, started);
  } finally {
    await fx.close();
  }
}
