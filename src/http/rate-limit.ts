// Abuse limits (designed): each client gets a budget of writes per minute, and a smaller one of identity and
// pairing challenges (each may cost an MCR look-up). Past it: 429 RATE_LIMITED with Retry-After, nothing run.
// A client is its API key when it sent a configured one, else its IP address (an unknown key on an open
// deployment would otherwise buy a fresh budget per request).
// Counters: PostgreSQL (rate-limiter-flexible's PostgreSQL store, table rate_limits), so limits hold across
// replicas and restarts; SQLite: in process memory, per process (one host; documented).
// On PostgreSQL the charges of one client are coalesced (Coalesced): while its counter's update is in flight, the
// requests that come meanwhile wait and are charged together in the next update, each one counted at its own
// position, so the budget holds exactly and a burst costs a few updates instead of one each.
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

/** What a charge needs of a limiter: consume `points` for `key`, resolving or rejecting with a RateLimiterRes. */
interface Consumer {
  points: number;
  consume(key: string, points: number): Promise<RateLimiterRes>;
}

/**
 * One counter update in flight per client: requests arriving meanwhile join the next update, which consumes as many
 * points as it carries requests. The update's total tells each request its position: the k requests of an update
 * that brought the counter to `total` hold positions total-k+1 .. total, and those past the budget are refused
 * (with the update's Retry-After), exactly as if each had been charged alone in that order. Every update counts
 * all its points, refused ones too, as a single charge does.
 */
class Coalesced {
  /** Per client with an update in flight: the requests waiting for the next one. */
  private readonly waiting = new Map<string, Resolve[]>();

  constructor(private readonly limiter: Consumer) {}

  /** Resolves with the outcome for one request of `key`. */
  charge(key: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const waiting = this.waiting.get(key);
      if (waiting) waiting.push(resolve);
      else this.send(key, [resolve]);
    });
  }

  private send(key: string, batch: Resolve[]): void {
    this.waiting.set(key, []);
    const k = batch.length;
    const done = (res: RateLimiterRes | undefined, err?: unknown) => {
      batch.forEach((resolve, i) => {
        if (!res) return resolve({ error: err });
        const position = res.consumedPoints - k + i + 1;
        resolve(
          position <= this.limiter.points ? { allowed: true } : { allowed: false, msBeforeNext: res.msBeforeNext },
        );
      });
      const next = this.waiting.get(key)!;
      if (next.length === 0) this.waiting.delete(key);
      else this.send(key, next);
    };
    this.limiter.consume(key, k).then(
      (res) => done(res),
      (err: unknown) => (err instanceof RateLimiterRes ? done(err) : done(undefined, err)),
    );
  }
}

type Outcome = { allowed: true } | { allowed: false; msBeforeNext: number } | { error: unknown };
type Resolve = (outcome: Outcome) => void;

export const clientKey = (apiKey: string) => `key:${createHash('sha256').update(apiKey).digest('hex').slice(0, 32)}`;

type Charger = (client: string) => Promise<Outcome>;

/** In memory a charge is one consume; on PostgreSQL concurrent charges of a client are coalesced. */
function charger(l: RateLimiterAbstract | undefined): Charger | undefined {
  if (!l) return undefined;
  if (l instanceof RateLimiterPostgres) {
    const c = new Coalesced(l);
    return (client) => c.charge(client);
  }
  return (client) =>
    l.consume(client).then(
      (): Outcome => ({ allowed: true }),
      (err: unknown): Outcome =>
        err instanceof RateLimiterRes ? { allowed: false, msBeforeNext: err.msBeforeNext } : { error: err },
    );
}

export function createRateLimits(opts: RateLimitOptions): RateLimits {
  const writes = charger(limiter(opts.db, opts.writesPerMinute, 'w'));
  const challenges = charger(limiter(opts.db, opts.challengesPerMinute, 'c'));
  const take = async (charge: Charger | undefined, client: string, what: 'writes' | 'challenges') => {
    if (!charge) return;
    const outcome = await charge(client);
    if ('error' in outcome) throw outcome.error;
    if (outcome.allowed) return;
    opts.onLimited?.(what);
    const seconds = String(Math.max(1, Math.ceil(outcome.msBeforeNext / 1000)));
    throw new ApiError('RATE_LIMITED', `Too many ${what} from this client: retry in ${seconds} s.`, undefined, {
      'retry-after': seconds,
    });
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
