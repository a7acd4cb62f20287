// The idempotency-key store: one row per (caller scope, key), shared by every replica through the database.
//
// A request claims its key by inserting the row (the primary key makes exactly one insert win, on both engines).
// The winner runs the operation; its transactions mark the row `applied` as they commit (store/tx.ts), and the
// answer is stored afterwards. Everyone else reads the row: another request body is IDEMPOTENCY_KEY_REUSED; a
// stored answer is replayed; a request still in flight is waited for. A `running` row whose owner died before
// committing anything (its lease ran out) is taken over; an `applied` row whose owner died before storing the
// answer is never run again (the change happened; the answer is lost), so the caller is told to read the state.
import type { Knex } from 'knex';
import { fromJson, toJson } from './db.ts';
import { isUniqueViolation } from './busy.ts';

export type Claim =
  | { kind: 'run' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' }
  | { kind: 'lost' };

interface Row {
  scope: string;
  key: string;
  fingerprint: string;
  state: 'running' | 'applied' | 'completed';
  status: number | null;
  body: string | null;
  locked_until: string;
  expires_at: string;
  created_at: string;
}

export interface IdempotencyStoreOptions {
  db: Knex;
  now: () => number;
  /** How long a key and its answer are kept (PEAQOS_IDEMPOTENCY_TTL_MS). */
  ttlMs: number;
  /** How long a claim holds before a crashed owner's key may be taken over. */
  leaseMs?: number;
}

const TABLE = 'idempotency_keys';
const iso = (ms: number) => new Date(ms).toISOString();

export class IdempotencyStore {
  private readonly db: Knex;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly leaseMs: number;

  constructor(opts: IdempotencyStoreOptions) {
    this.db = opts.db;
    this.now = opts.now;
    this.ttlMs = opts.ttlMs;
    this.leaseMs = opts.leaseMs ?? 120_000;
  }

  async claim(scope: string, key: string, fingerprint: string): Promise<Claim> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.now();
      try {
        await this.db(TABLE).insert({
          scope,
          key,
          fingerprint,
          state: 'running',
          status: null,
          body: null,
          locked_until: iso(now + this.leaseMs),
          expires_at: iso(now + this.ttlMs),
          created_at: iso(now),
        } satisfies Row);
        return { kind: 'run' };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const row = (await this.db(TABLE).where({ scope, key }).first()) as Row | undefined;
      if (!row) continue; // released or purged meanwhile: claim again
      if (row.expires_at <= iso(now)) {
        await this.db(TABLE).where({ scope, key, expires_at: row.expires_at }).delete();
        continue;
      }
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (row.state === 'completed')
        return { kind: 'replay', status: row.status ?? 200, body: fromJson(row.body, undefined) };
      if (row.locked_until > iso(now)) return { kind: 'in-progress' };
      if (row.state === 'applied') return { kind: 'lost' };
      // The owner died before committing anything: take the key over (exactly one taker wins the update).
      const taken = await this.db(TABLE)
        .where({ scope, key, state: 'running', locked_until: row.locked_until })
        .update({ locked_until: iso(now + this.leaseMs) });
      if (Number(taken) === 1) return { kind: 'run' };
    }
    return { kind: 'in-progress' };
  }

  /** Runs inside the operation's transaction: from its commit on, the key is never executed again. */
  async markApplied(trx: Knex.Transaction, scope: string, key: string): Promise<void> {
    await trx(TABLE).where({ scope, key }).whereNot({ state: 'completed' }).update({ state: 'applied' });
  }

  async complete(scope: string, key: string, status: number, body: unknown): Promise<void> {
    await this.db(TABLE)
      .where({ scope, key })
      .update({ state: 'completed', status, body: body === undefined ? null : toJson(body) });
  }

  /** Gives the key up (the request changed nothing and its answer is not worth keeping): a retry runs anew. */
  async release(scope: string, key: string): Promise<void> {
    await this.db(TABLE).where({ scope, key }).whereNot({ state: 'completed' }).delete();
  }

  /** Deletes expired keys; safe to run on every replica at once. Returns how many went. */
  async purgeExpired(): Promise<number> {
    return Number(await this.db(TABLE).where('expires_at', '<=', iso(this.now())).delete());
  }
}
