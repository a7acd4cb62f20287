// Executes a route: native entries call the machine's runtime endpoint over HTTP (its base URL, auth type and
// token, a timeout); a handoff entry ends in an external outcome. On failure it falls back along the chain.
import type { CatalogService, ExternalHandoff } from '../catalog/catalog.ts';
import { RuntimeService, type RuntimeEndpointSecret } from '../runtime/service.ts';

export interface RouteEntry {
  skillKey: string;
  serviceId: string;
  executionMode: 'native' | 'external-handoff';
}

export interface Attempt {
  serviceId: string;
  ok: boolean;
  status?: number;
  error?: string;
}

export type ExecutionResult =
  | {
      kind: 'completed';
      entry: RouteEntry;
      service: CatalogService;
      endpoint: RuntimeEndpointSecret;
      httpStatus: number;
      result: unknown;
      attempts: Attempt[];
    }
  | { kind: 'handoff'; entry: RouteEntry; service: CatalogService; handoff: ExternalHandoff; attempts: Attempt[] }
  | {
      kind: 'failed';
      code: 'RUNTIME_EXECUTION_FAILED' | 'RUNTIME_UNAVAILABLE';
      message: string;
      entry: RouteEntry;
      service: CatalogService | undefined;
      attempts: Attempt[];
    };

export interface ExecutorDeps {
  service(id: string): CatalogService | undefined;
  endpoint(providerKey: string): Promise<RuntimeEndpointSecret | undefined>;
  timeoutMs: number;
}

const MAX_RESULT_BYTES = 256 * 1024;

export async function executeChain(
  chain: RouteEntry[],
  input: Record<string, unknown>,
  operation: string | undefined,
  deps: ExecutorDeps,
): Promise<ExecutionResult> {
  const attempts: Attempt[] = [];
  let sawEndpoint = false;
  for (const entry of chain) {
    const service = deps.service(entry.serviceId);
    if (!service) {
      attempts.push({ serviceId: entry.serviceId, ok: false, error: 'service is no longer in the catalogue' });
      continue;
    }
    if (service.executionMode === 'external-handoff') {
      if (!service.handoff) {
        attempts.push({ serviceId: service.id, ok: false, error: 'service has no handoff' });
        continue;
      }
      attempts.push({ serviceId: service.id, ok: true });
      return { kind: 'handoff', entry, service, handoff: service.handoff, attempts };
    }
    const endpoint = await deps.endpoint(service.providerKey);
    if (!endpoint || endpoint.status !== 'active') {
      attempts.push({
        serviceId: service.id,
        ok: false,
        error: `no active runtime endpoint for ${service.providerKey}`,
      });
      continue;
    }
    sawEndpoint = true;
    const runtime = runtimeCall(service.metadata);
    const url = `${endpoint.endpointBaseUrl}${runtime.path ?? '/'}`;
    const body = {
      ...(endpoint.modelAlias ? { model: endpoint.modelAlias } : {}),
      ...(operation ? { operation } : {}),
      ...input,
    };
    try {
      const res = await fetch(url, {
        method: runtime.method ?? 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...RuntimeService.authHeaders(endpoint),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(deps.timeoutMs),
      });
      const text = await res.text();
      if (!res.ok) {
        attempts.push({
          serviceId: service.id,
          ok: false,
          status: res.status,
          error: `${service.providerKey} runtime answered ${res.status}`,
        });
        continue;
      }
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* keep text */
      }
      if (text.length > MAX_RESULT_BYTES) parsed = { truncated: true, bytes: text.length };
      attempts.push({ serviceId: service.id, ok: true, status: res.status });
      return {
        kind: 'completed',
        entry,
        service,
        endpoint,
        httpStatus: res.status,
        result: { status: res.status, body: parsed },
        attempts,
      };
    } catch (err) {
      const e = err as Error;
      attempts.push({
        serviceId: service.id,
        ok: false,
        error:
          e.name === 'TimeoutError'
            ? `${service.providerKey} runtime timed out after ${deps.timeoutMs} ms`
            : `${service.providerKey} runtime could not be reached`,
      });
    }
  }
  const last = chain[chain.length - 1]!;
  return {
    kind: 'failed',
    code: sawEndpoint ? 'RUNTIME_EXECUTION_FAILED' : 'RUNTIME_UNAVAILABLE',
    message: sawEndpoint
      ? 'Every route in the fallback chain failed.'
      : 'No route in the chain has an active runtime endpoint or a handoff.',
    entry: last,
    service: deps.service(last.serviceId),
    attempts,
  };
}

/**
 * How a native service is called on the machine's runtime: `metadata.runtime` of the catalogue entry (method and
 * path), which the contract leaves open; anything else there is ignored.
 */
function runtimeCall(metadata: Record<string, unknown>): { method?: string; path?: string } {
  const r = metadata.runtime;
  if (!r || typeof r !== 'object') return {};
  const { method, path } = r as Record<string, unknown>;
  return { ...(typeof method === 'string' ? { method } : {}), ...(typeof path === 'string' ? { path } : {}) };
}
