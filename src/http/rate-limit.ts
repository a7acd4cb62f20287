// Abuse limits (designed): each client gets a budget of writes per minute, and a smaller one of identity and
// pairing challenges (each may cost an MCR look-up). Past it: 429 RATE_LIMITED with Retry-After, nothing run.
// A client is its API key when it sent a configured one, else its IP address (an unknown key on an open
// deployment would otherwise buy a fresh budget per request).
// Counters: PostgreSQL (rate-limiter-flexible's PostgreSQL store, table rate_limits), so limits hold across
// replicas and restarts; SQLite: in process memory, per process (one host; documented).
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { ApiError } from '../errors.ts';

export interface RateLimitOptions {
  db: Knex;
  /** Writes (POST, PUT, PATCH, DELETE under /api/v1) per client per minute; 0 turns the limit off. */
  writesPerMinute: number;
  /** Identity and pairing challenges per client per minute; 0 turns the limit off. */
  challengesPerMinute: number;
  /** Metrics: a request refused, by budget. */
  onLimited?: (budget: 'writes' | 'challenges') => void;
}

export interface RateLimits {
  /** Whether requests with this method are charged at all (writes are; reads never wait for the limiter). */
  charges(method: string): boolean;
  /** Charges the request to `client`; throws 429 RATE_LIMITED past a budget. */
  charge(method: string, path: string, client: string): Promise<void>;
  /** Deletes counters that expired over an hour ago (PostgreSQL). */
  purge(): Promise<void>;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const CHALLENGE = /^\/api\/v1\/(machine-identity\/challenges|machines\/[^/]+\/agent-pairings\/challenges)$/;
const INSURANCE = (points: number) => new RateLimiterMemory({ points, duration: 60 });

function limiter(db: Knex, points: number, keyPrefix: string): RateLimiterAbstract | undefined {
  if (points <= 0) return undefined;
  if (db.client.config.client !== 'pg') return new RateLimiterMemory({ points, duration: 60, keyPrefix });
  return new RateLimiterPostgres({
    storeClient: db,
    storeType: 'knex',
    tableName: 'rate_limits',
    tableCreated: true, // by the migrations, so replicas do not race to create it
    clearExpiredByTimeout: false, // purge() does it on the maintenance timer
    points,
    duration: 60,
    keyPrefix,
    // The database unreachable must not stop every write: count in memory meanwhile.
    insuranceLimiter: INSURANCE(points),
  });
}

export const clientKey = (apiKey: string) => `key:${createHash('sha256').update(apiKey).digest('hex').slice(0, 32)}`;

export function createRateLimits(opts: RateLimitOptions): RateLimits {
  const writes = limiter(opts.db, opts.writesPerMinute, 'w');
  const challenges = limiter(opts.db, opts.challengesPerMinute, 'c');
  const take = async (l: RateLimiterAbstract | undefined, client: string, what: 'writes' | 'challenges') => {
    if (!l) return;
    try {
      await l.consume(client);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      opts.onLimited?.(what);
      const seconds = String(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      throw new ApiError('RATE_LIMITED', `Too many ${what} from this client: retry in ${seconds} s.`, undefined, {
        'retry-after': seconds,
      });
    }
  };
  return {
    charges: (method) => WRITES.has(method) && !!(writes || challenges),
    async charge(method, path, client) {
      if (!WRITES.has(method)) return;
      if (CHALLENGE.test(path)) await take(challenges, client, 'challenges');
      await take(writes, client, 'writes');
    },
    async purge() {
      if (opts.db.client.config.client !== 'pg') return;
      await opts
        .db('rate_limits')
        .where('expire', '<', Date.now() - 3_600_000)
        .delete();
    },
  };
}
