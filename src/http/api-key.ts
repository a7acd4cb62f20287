// Deployment API key for every /api/v1 request when PEAQOS_REQUIRE_API_AUTH=true. Keys are compared as SHA-256
// digests with timingSafeEqual, so neither the key's content nor its length leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors.ts';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function apiKeyMatches(presented: string, keys: Buffer[]): boolean {
  const d = digest(presented);
  let match = false;
  for (const k of keys) match = timingSafeEqual(d, k) || match;
  return match;
}

/** Returns a check for request headers: the ApiError to answer with, or undefined when a configured key was sent. */
export function apiKeyAuth(keys: string[]): (headers: IncomingHttpHeaders) => ApiError | undefined {
  const digests = keys.map(digest);
  return (headers) => {
    const raw = headers['x-api-key'];
    const presented = Array.isArray(raw) ? raw[0] : raw;
    if (!presented) return new ApiError('AUTH_REQUIRED', 'This deployment requires an x-api-key header.');
    if (!apiKeyMatches(presented, digests)) return new ApiError('AUTH_INVALID', 'The x-api-key header is not a valid key for this deployment.');
    return undefined;
  };
}
