// Deployment API key for every /api/v1 request when PEAQOS_REQUIRE_API_AUTH=true. Keys are compared as SHA-256
// digests with timingSafeEqual, so neither the key's content nor its length leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function apiKeyMatches(presented: string, keys: Buffer[]): boolean {
  const d = digest(presented);
  let match = false;
  for (const k of keys) match = timingSafeEqual(d, k) || match;
  return match;
}

export type KeyRole = 'operator' | 'agent';

/**
 * Classifies the x-api-key of a request: an operator key, an agent-scoped key, or an error to answer with.
 * With `required` (PEAQOS_REQUIRE_API_AUTH=true) a missing or unknown key is refused; otherwise the deployment is
 * open, a missing or unknown key makes an operator, and only a known agent-scoped key narrows the caller.
 */
export function apiKeyAuth(opts: {
  operatorKeys: string[];
  agentKeys: string[];
  required: boolean;
}): (headers: IncomingHttpHeaders) => KeyRole | ApiError {
  const operators = opts.operatorKeys.map(digest);
  const agents = opts.agentKeys.map(digest);
  return (headers) => {
    const raw = headers['x-api-key'];
    const presented = Array.isArray(raw) ? raw[0] : raw;
    if (!presented)
      return opts.required
        ? new ApiError('AUTH_REQUIRED', 'This deployment requires an x-api-key header.')
        : 'operator';
    if (agents.length && apiKeyMatches(presented, agents)) return 'agent';
    if (!opts.required || apiKeyMatches(presented, operators)) return 'operator';
    return new ApiError('AUTH_INVALID', 'The x-api-key header is not a valid key for this deployment.');
  };
}
