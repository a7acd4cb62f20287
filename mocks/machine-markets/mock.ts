// A stateful MSW mock of the whole Machine Markets API: one handler per operation in openapi.yaml, requests
// validated against the spec with the same error envelope as the server, in-memory state seeded with fixtures.
// Options: latency, forced error codes per operation, a custom seed, and reset between tests.
import { delay, http, HttpResponse, type HttpHandler } from 'msw';
import { ContractValidator } from '../../src/contract/validator.ts';
import type { HttpMethod } from '../../src/contract/routes.ts';
import { ApiError, ERROR_STATUS, type ErrorCode } from '../../src/errors.ts';
import { MAX_JSON_DEPTH, checkJsonStrings, checkUrl, jsonDepthExceeds } from '../../src/http/hostile.ts';

/** The server's body limit (src/http/body.ts), kept here so the mock stays browser-safe. */
const BODY_LIMIT = 1024 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });
import type { Catalog } from '../../src/modules/catalog/catalog-core.ts';
import { operations, type IdentityResolver, type Operation } from './operations/index.ts';
import { advance, emptyState, type MockState } from './state.ts';
import { seedFixtures } from './seed.ts';
import { sampleCatalog } from './catalog-data.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed OpenAPI document of any shape; readers narrow what they use
type Spec = Record<string, any>;

export interface MockApiOptions {
  /** The parsed openapi.yaml (in Node: loadSpec(); in a browser: fetch and parse it). */
  spec: Spec;
  /** Origin the handlers answer for; `*` (default) matches any. */
  baseUrl?: string;
  /** Delay every response by this many milliseconds. */
  latencyMs?: number;
  /** `default` fixtures, `empty`, or your own function that fills the mock through its operations. */
  seed?: 'default' | 'empty' | ((api: MockApi) => Promise<void>);
  catalog?: Catalog;
  /** A virtual clock starting here (ms since epoch), moved only by writes and advanceClock: repeatable timestamps. By default the mock follows the wall clock. */
  clock?: number;
  /** How identityRefs resolve; by default the mock MCR fixture fleet in memory. */
  resolveIdentity?: IdentityResolver;
}

export interface MockApi {
  handlers: HttpHandler[];
  state: MockState;
  /** Runs an operation directly (seeding, tests), with the same validation as HTTP. */
  call(
    operationId: string,
    req?: {
      params?: Record<string, string>;
      query?: Record<string, string>;
      body?: unknown;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; body?: unknown }>;
  /** Makes `operationId` answer with this error code (and its documented status) until cleared. */
  forceError(operationId: string, code: ErrorCode, message?: string): void;
  clearForcedErrors(): void;
  setLatency(ms: number): void;
  /** Moves the mock clock forward (challenges, quotes and leases expire by it; every write also moves it by 1 ms). */
  advanceClock(ms: number): void;
  /** Back to the start: the seeded state, the starting clock, the latency given at creation, no forced errors, no idempotency keys. */
  reset(): Promise<void>;
}

interface Answer {
  status: number;
  body?: unknown;
  /** An Idempotency-Key replay of an earlier answer. */
  replayed?: boolean;
}

export async function createMockApi(opts: MockApiOptions): Promise<MockApi> {
  const spec = opts.spec;
  const base = (opts.baseUrl ?? '*').replace(/\/+$/, '');
  const catalog = opts.catalog ?? sampleCatalog();
  const ops: Record<string, Operation> = operations(catalog, opts.resolveIdentity);
  // The server's route table and validator: a path means the same operation, and an input the same error, here.
  const validator = new ContractValidator(spec, 'mock-request-spec.json');
  const forced = new Map<string, { code: ErrorCode; message: string }>();
  let latency = opts.latencyMs ?? 0;
  // One clock for every timestamp: the wall clock by default, so expiry times mean what clients read in them;
  // with `clock`, a virtual one starting there that only writes and advanceClock move (repeatable timestamps).
  const clockMode = opts.clock === undefined ? 'real' : 'virtual';
  const startClock = () => opts.clock ?? Date.now();
  const api = {} as MockApi;
  api.state = emptyState(startClock(), clockMode);

  const byId = new Map<string, { path: string; method: HttpMethod }>();
  for (const r of validator.routes.routes()) byId.set(r.operationId, { path: r.template, method: r.method });

  const errorBody = (e: ApiError): Answer => ({ status: e.status, body: e.toBody() });
  const idempotent = new Map<string, { fingerprint: string; answer: Promise<Answer> }>();

  async function run(
    operationId: string,
    req: {
      params: Record<string, string>;
      query: Record<string, string>;
      body: unknown;
      hasBody: boolean;
      headers: Headers;
    },
  ) {
    const where = byId.get(operationId)!;
    const f = forced.get(operationId);
    if (f) return errorBody(new ApiError(f.code, f.message));
    const { details } = validator.validateRequest(operationId, req);
    if (details.length)
      return errorBody(
        new ApiError(
          'VALIDATION_ERROR',
          `Invalid ${details[0]!.location} ${details[0]!.path}: ${details[0]!.message}.`,
          details,
        ),
      );
    const op = ops[operationId];
    if (!op) return errorBody(new ApiError('NOT_IMPLEMENTED', `${operationId} is not implemented by the mock.`));
    const execute = async (): Promise<Answer> => {
      try {
        return await op(api.state, { params: req.params, query: req.query, body: req.body, headers: req.headers });
      } catch (err) {
        if (err instanceof ApiError) return errorBody(err);
        return errorBody(
          new ApiError('INTERNAL_ERROR', 'The mock failed on this request.', { reason: (err as Error).message }),
        );
      }
    };
    const key = where.method === 'post' ? req.headers.get('idempotency-key') : null;
    if (!key) return execute();
    // Idempotency-Key as the server does it: per credentials, the first answer replayed, another request 422.
    const slot = `${req.headers.get('x-api-key') ?? ''}\u0000${req.headers.get('x-agent-pairing-token') ?? ''}\u0000${key}`;
    const fingerprint = JSON.stringify([operationId, req.params, req.query, req.body ?? null]);
    const seen = idempotent.get(slot);
    if (seen) {
      if (seen.fingerprint !== fingerprint)
        return errorBody(
          new ApiError(
            'IDEMPOTENCY_KEY_REUSED',
            'This Idempotency-Key was used with a different request: use a new key for a new request.',
          ),
        );
      return { ...(await seen.answer), replayed: true };
    }
    const answer = execute();
    idempotent.set(slot, { fingerprint, answer });
    const done = await answer;
    // Refusals that a retry may not meet again (409, 429, 5xx) are not kept.
    if (done.status >= 500 || done.status === 409 || done.status === 429) idempotent.delete(slot);
    return done;
  }

  const handlers: HttpHandler[] = [];
  for (const [operationId, { path, method: m }] of byId) {
    const method = m as HttpMethod;
    const mswPath = `${base}${path.replace(/\{([^}]+)\}/g, ':$1')}`;
    handlers.push(
      http[method](mswPath, async ({ request }) => {
        const url = new URL(request.url);
        const refuse = (err: ApiError) => {
          const e = errorBody(err);
          return HttpResponse.json(e.body as never, { status: e.status });
        };
        // The route table decides which operation a path is (MSW's own pattern only gets the request here).
        let params: Record<string, string>;
        try {
          const match = validator.routes.match(method, url.pathname);
          if (match.kind !== 'found' || match.route.operationId !== operationId) return undefined;
          params = match.params;
        } catch (err) {
          if (err instanceof ApiError) return refuse(err);
          throw err;
        }
        if (latency > 0) await delay(latency);
        const bytes = ['get', 'delete'].includes(method)
          ? new Uint8Array()
          : new Uint8Array(await request.arrayBuffer());
        if (bytes.length > BODY_LIMIT)
          return refuse(new ApiError('PAYLOAD_TOO_LARGE', 'The request body exceeds 1 MiB.'));
        // The server's input rules: valid UTF-8, no NUL or lone surrogate anywhere, JSON no deeper than 64 levels.
        let text: string;
        try {
          text = utf8.decode(bytes);
        } catch {
          return refuse(
            new ApiError('VALIDATION_ERROR', 'The request body is not valid UTF-8.', [
              { location: 'body', path: '/', rule: 'utf-8', message: 'invalid UTF-8' },
            ]),
          );
        }
        let body: unknown = undefined;
        try {
          checkUrl(url.pathname, url.search ? url.search.slice(1) : undefined);
          if (text) {
            if (jsonDepthExceeds(text, MAX_JSON_DEPTH))
              throw new ApiError(
                'VALIDATION_ERROR',
                `The request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels.`,
                [
                  {
                    location: 'body',
                    path: '/',
                    rule: 'depth',
                    message: `nested deeper than ${MAX_JSON_DEPTH} levels`,
                  },
                ],
              );
            try {
              body = JSON.parse(text);
            } catch {
              throw new ApiError('VALIDATION_ERROR', 'The request body is not valid JSON.', [
                { location: 'body', path: '/', rule: 'json', message: 'malformed JSON' },
              ]);
            }
            checkJsonStrings(body);
          }
        } catch (err) {
          if (err instanceof ApiError) return refuse(err);
          throw err;
        }
        const r = await run(operationId, {
          params,
          query: Object.fromEntries(url.searchParams),
          body,
          hasBody: bytes.length > 0,
          headers: request.headers,
        });
        const headers = r.replayed ? { 'idempotent-replayed': 'true' } : undefined;
        return r.body === undefined
          ? new HttpResponse(null, { status: r.status, headers })
          : HttpResponse.json(r.body as never, { status: r.status, headers });
      }),
    );
  }
  // Anything else under /api/v1 answers in the error envelope too (405 for a known path, else 404).
  handlers.push(
    http.all(`${base}/api/v1/*`, ({ request }) => {
      const p = new URL(request.url).pathname;
      let match;
      try {
        match = validator.routes.match(request.method, p);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        return HttpResponse.json(err.toBody(), { status: err.status });
      }
      const allowed = match.kind === 'method-not-allowed' ? match.allowed : [];
      const e = allowed.length
        ? new ApiError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${p}.`, { allowed })
        : new ApiError('NOT_FOUND', `No route for ${request.method} ${p}.`);
      return HttpResponse.json(e.toBody(), {
        status: e.status,
        ...(allowed.length ? { headers: { allow: allowed.map((m) => m.toUpperCase()).join(', ') } } : {}),
      });
    }),
  );

  api.handlers = handlers;
  api.call = async (operationId, req = {}) => {
    if (!byId.has(operationId)) throw new Error(`unknown operationId ${operationId}`);
    return run(operationId, {
      params: req.params ?? {},
      query: req.query ?? {},
      body: req.body,
      hasBody: req.body !== undefined,
      headers: new Headers(req.headers ?? {}),
    });
  };
  api.forceError = (operationId, code, message) => {
    if (!byId.has(operationId)) throw new Error(`unknown operationId ${operationId}`);
    if (!(code in ERROR_STATUS)) throw new Error(`unknown error code ${code}`);
    forced.set(operationId, { code, message: message ?? `Forced ${code} for ${operationId}.` });
  };
  api.clearForcedErrors = () => forced.clear();
  api.setLatency = (ms) => {
    latency = ms;
  };
  api.advanceClock = (ms) => advance(api.state, ms);
  api.reset = async () => {
    latency = opts.latencyMs ?? 0;
    const fresh = emptyState(startClock(), clockMode);
    for (const k of Object.keys(fresh) as Array<keyof MockState>)
      (api.state as unknown as Record<string, unknown>)[k] = fresh[k];
    forced.clear();
    idempotent.clear();
    const seed = opts.seed ?? 'default';
    if (seed === 'default') await seedFixtures(api);
    else if (typeof seed === 'function') await seed(api);
  };
  await api.reset();
  return api;
}
