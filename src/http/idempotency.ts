// Idempotency-Key on POST (designed; openapi.yaml marks it x-peaqos-source: designed). The same key with the same
// request from the same caller gets the first answer again, status and body, without running the operation a
// second time; with another request it is 422 IDEMPOTENCY_KEY_REUSED; while the first is still running the
// second waits for it (up to `waitMs`) and then gets 409 IDEMPOTENCY_KEY_IN_PROGRESS with Retry-After.
//
// Scope: the credentials that sent the request (x-api-key and x-agent-pairing-token, hashed): a replay hands
// the stored answer only to a caller holding the same credentials, since the operation (and its checks) does
// not run again. Requests without credentials (API auth off) share one public scope.
//
// What is kept: the answer of every request that changed state, and every other answer below 500 except 409 and
// 429 (a refusal that a retry would meet again); a 5xx, 409 or 429 that changed nothing releases the key.
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Knex } from 'knex';
import { ApiError, validationError } from '../errors.ts';
import { captureResponse, sendError, sendJson } from './respond.ts';
import type { HttpRequest } from './types.ts';
import type { Awaitable } from '../awaitable.ts';
import { requestWrites, type RequestWrites } from '../store/tx.ts';
import type { IdempotencyStore } from '../store/idempotency.ts';
import { sleep } from '../store/busy.ts';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY = /^[\x21-\x7e]{1,255}$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function header(req: HttpRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function scopeOf(req: HttpRequest): string {
  const apiKey = header(req, 'x-api-key');
  const token = header(req, 'x-agent-pairing-token');
  if (!apiKey && !token) return 'public';
  return sha256(`key\0${apiKey ?? ''}\0token\0${token ?? ''}`);
}

export function fingerprintOf(req: HttpRequest): string {
  const query = Object.keys(req.query)
    .sort()
    .map((k) => `${k}=${JSON.stringify(req.query[k])}`)
    .join('&');
  return sha256(`${req.method} ${req.path}?${query}\n${JSON.stringify(req.body ?? null)}`);
}

export interface IdempotencyOptions {
  store: IdempotencyStore;
  /** How long a duplicate waits for the first request before 409 IDEMPOTENCY_KEY_IN_PROGRESS. */
  waitMs?: number;
  /** Metrics: an answer replayed. */
  onReplay?: () => void;
}

export interface Idempotency {
  /** Does this request carry a key this layer handles (a POST)? Throws VALIDATION_ERROR for a malformed key. */
  applies(req: HttpRequest): boolean;
  /** Runs `dispatch` at most once per key; `fail` answers an error the way the app does. */
  run(
    req: HttpRequest,
    res: ServerResponse,
    dispatch: () => Awaitable<unknown>,
    fail: (err: unknown) => void,
  ): Promise<void>;
}

const keep = (status: number, applied: boolean) => applied || (status < 500 && status !== 409 && status !== 429);

export function createIdempotency(opts: IdempotencyOptions): Idempotency {
  const { store } = opts;
  const waitMs = opts.waitMs ?? 10_000;
  return {
    applies(req) {
      if (req.method !== 'POST') return false;
      const key = header(req, IDEMPOTENCY_HEADER);
      if (key === undefined) return false;
      if (!KEY.test(key)) {
        throw validationError('Idempotency-Key must be 1-255 visible ASCII characters.', [
          {
            location: 'header',
            path: '/idempotency-key',
            rule: 'pattern',
            message: 'must be 1-255 visible ASCII characters',
          },
        ]);
      }
      return true;
    },
    async run(req, res, dispatch, fail) {
      const key = header(req, IDEMPOTENCY_HEADER)!;
      const scope = scopeOf(req);
      const fingerprint = fingerprintOf(req);
      const deadline = Date.now() + waitMs;
      for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
        const claim = await store.claim(scope, key, fingerprint);
        if (claim.kind === 'run') break;
        if (claim.kind === 'replay') {
          opts.onReplay?.();
          return sendJson(res, claim.status, claim.body, { 'idempotent-replayed': 'true' });
        }
        if (claim.kind === 'mismatch')
          throw new ApiError(
            'IDEMPOTENCY_KEY_REUSED',
            'This Idempotency-Key was used with a different request: use a new key for a new request.',
          );
        if (claim.kind === 'lost') {
          throw new ApiError(
            'IDEMPOTENCY_KEY_IN_PROGRESS',
            'The first request with this Idempotency-Key changed state but its answer was lost: read the resource instead of retrying.',
          );
        }
        if (Date.now() >= deadline) {
          return sendError(
            res,
            new ApiError(
              'IDEMPOTENCY_KEY_IN_PROGRESS',
              'A request with this Idempotency-Key is still running: retry later.',
            ),
            { 'retry-after': '1' },
          );
        }
        await sleep(wait);
      }
      let answer: { status: number; body: unknown } | undefined;
      captureResponse(res, (status, body) => {
        answer = { status, body };
      });
      const writes: RequestWrites = {
        applied: false,
        beforeCommit: (trx: Knex.Transaction) => store.markApplied(trx, scope, key),
      };
      try {
        await requestWrites.run(writes, dispatch);
      } catch (err) {
        fail(err);
      }
      if (answer && keep(answer.status, writes.applied)) await store.complete(scope, key, answer.status, answer.body);
      else if (!writes.applied) await store.release(scope, key);
    },
  };
}
