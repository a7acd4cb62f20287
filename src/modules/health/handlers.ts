// GET /health (liveness, no auth) and GET /api/v1/readiness (real checks: the store answers a query, the
// catalogue is loaded, auth is configured, MCR is reachable when identity verification is required).
import type { HandlerMap } from '../../http/types.ts';
import type { Services } from '../../services.ts';
import { commitProbeWrite } from '../../store/readiness.ts';
import { errorForLog } from '../../logger.ts';

export interface ReadinessCheck {
  name: 'store' | 'catalog' | 'auth' | 'runtime' | 'skills' | 'identity';
  ok: boolean;
  detail?: string;
}

export async function readiness(s: Services): Promise<ReadinessCheck[]> {
  const checks: ReadinessCheck[] = [];
  // The store is ready when it takes a write and commits it (a read succeeds on a full disk or a read-only
  // database): one row, rewritten by every probe.
  try {
    await commitProbeWrite(s.db);
    checks.push({ name: 'store', ok: true, detail: 'write committed' });
  } catch (err) {
    checks.push({
      name: 'store',
      ok: false,
      detail: `the store cannot write: ${errorForLog(err).message.replace(/^.* - /, '')}`,
    });
  }
  checks.push({
    name: 'auth',
    ok: !s.config.requireApiAuth || s.config.apiKeys.length > 0,
    detail: s.config.requireApiAuth
      ? `api key auth on (${s.config.apiKeys.length} operator key(s), ${s.config.agentApiKeys.length} agent key(s))`
      : 'api key auth off (PEAQOS_REQUIRE_API_AUTH=false): every caller without an agent key is an operator',
  });
  for (const extra of s.readinessChecks) checks.push(await extra());
  if (s.config.machineIdentityVerification === 'required') {
    const reachable = await s.mcr.ping();
    checks.push({
      name: 'identity',
      ok: reachable,
      detail: reachable ? 'MCR reachable' : `MCR unreachable at ${s.config.mcrApiUrl}`,
    });
  } else {
    checks.push({
      name: 'identity',
      ok: true,
      detail: `identity verification ${s.config.machineIdentityVerification}`,
    });
  }
  return checks;
}

export function healthHandlers(s: Services) {
  return {
    getHealth: () => ({ status: 200, body: { ok: true } }),
    getReadiness: async () => {
      const checks = await readiness(s);
      const ready = checks.every((c) => c.ok);
      return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not_ready', checks } };
    },
  } satisfies HandlerMap;
}
