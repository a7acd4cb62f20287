// CORS (designed, PEAQOS_CORS_ORIGINS): browsers on the listed origins may call the API. A preflight is answered
// 204 with the methods and request headers the API takes; actual responses carry the allowed origin, expose the
// headers a client reads (x-request-id, idempotent-replayed, retry-after) and say `Vary: Origin`. With no origins
// configured no CORS header is ever sent. `*` allows any origin (refused with API auth on: keys must not be
// usable from any page).
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
export const CORS_REQUEST_HEADERS =
  'content-type, x-api-key, x-agent-pairing-token, idempotency-key, x-request-id, authorization';
export const CORS_EXPOSED_HEADERS = 'x-request-id, idempotent-replayed, retry-after, allow';

export interface Cors {
  /** Sets the CORS headers of `req`'s origin; true when it answered a preflight (nothing more to do). */
  apply(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createCors(origins: readonly string[]): Cors | undefined {
  if (origins.length === 0) return undefined;
  const any = origins.includes('*');
  const allowed = new Set(origins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  return {
    apply(req, res) {
      const origin = req.headers.origin;
      res.setHeader('vary', 'Origin');
      const ok = typeof origin === 'string' && (any || allowed.has(origin.toLowerCase()));
      if (ok) {
        res.setHeader('access-control-allow-origin', any ? '*' : origin);
        res.setHeader('access-control-expose-headers', CORS_EXPOSED_HEADERS);
      }
      if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return false;
      if (ok) {
        res.setHeader('access-control-allow-methods', CORS_METHODS);
        res.setHeader('access-control-allow-headers', CORS_REQUEST_HEADERS);
        res.setHeader('access-control-max-age', '600');
      }
      res.statusCode = 204;
      res.end();
      return true;
    },
  };
}
