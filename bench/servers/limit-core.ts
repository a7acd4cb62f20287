// The limit servers' one request listener (limit-sqlite.ts, limit-pg.ts): node:http, the same reads and writes as
// the server with nothing else on the path (no validation beyond what the statements need, no auth beyond the
// token's digest, no logging, no metrics, no identity re-verification). Each store call may answer synchronously
// (better-sqlite3) or with a promise (pg); a synchronous answer is written inside the request event.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { toMachine, type MachineRow } from '../../src/modules/machines/repo.ts';
import { fromRow as pairingFrom } from '../../src/modules/pairings/repo.ts';
import { orderRow } from '../../src/modules/orders/repo.ts';
import { newOrder } from '../../src/modules/orders/service.ts';
import { encodeCursor } from '../../src/store/pages.ts';
import { newId } from '../../src/ids.ts';
import { loadCatalog } from '../../src/modules/catalog/catalog.ts';
import { chargeOf } from '../../src/modules/market/policy-check.ts';
import type { Machine } from '../../src/modules/machines/types.ts';
import type { AuditRow } from '../../src/modules/audit/repo.ts';

type Maybe<T> = T | Promise<T>;
export type Row = Record<string, unknown>;
export type { AuditRow };

export interface LimitStore {
  machine(id: string): Maybe<Row | undefined>;
  firstPage(limit: number): Maybe<Row[]>;
  /** One transaction: is the identity taken, then the machine row and its audit row. False when taken. */
  createMachine(row: Row, identityRef: string, audit: AuditRow): Maybe<boolean>;
  pairingByTokenDigest(digest: string): Maybe<Row | undefined>;
  /** One transaction: lock machine and pairing, today's spend (when `spend`), the order row and its audit row. */
  createOrder(row: Row, audit: AuditRow, spend: boolean): Maybe<void>;
}

const catalog = loadCatalog(undefined);

function send(res: ServerResponse, status: number, body: string): void {
  // The head the reference server writes (its length said, not chunked), apart from the request id.
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
function answer<T>(res: ServerResponse, v: Maybe<T>, then: (x: T) => void): void {
  if (v instanceof Promise)
    v.then(then, (err: unknown) =>
      send(res, 500, JSON.stringify({ error: { code: 'INTERNAL_ERROR', message: String(err) } })),
    );
  else then(v);
}
function readBody(req: IncomingMessage, then: (body: Record<string, unknown>) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => then(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>));
}

function createMachine(store: LimitStore, res: ServerResponse, b: Record<string, unknown>): void {
  const now = new Date();
  const at = now.toISOString();
  const m: Machine = {
    id: newId('mch', now.getTime()),
    displayName: b.displayName as string,
    status: 'draft',
    ownerId: b.ownerId as string,
    identityRef: b.identityRef as string,
    identityProof: null,
    machineType: b.machineType as string,
    runtimeProfile: b.runtimeProfile as string,
    capabilities: (b.capabilities as string[] | undefined) ?? [],
    labels: (b.labels as Record<string, string> | undefined) ?? {},
    policyIds: [],
    skillKeys: [],
    createdAt: at,
    updatedAt: at,
  };
  const row = {
    id: m.id,
    display_name: m.displayName,
    status: m.status,
    owner_id: m.ownerId,
    identity_ref: m.identityRef,
    identity_proof: null,
    machine_type: m.machineType,
    runtime_profile: m.runtimeProfile,
    capabilities: JSON.stringify(m.capabilities),
    labels: JSON.stringify(m.labels),
    policy_ids: '[]',
    skill_keys: '[]',
    created_at: at,
    updated_at: at,
    identity_key: null,
  };
  const audit = {
    id: newId('aev', now.getTime()),
    actor: 'api',
    type: 'machine.created',
    resource_type: 'machine',
    resource_id: m.id,
    payload: JSON.stringify({ identityRef: m.identityRef, status: m.status, verified: false, signerAddress: null }),
    created_at: at,
  };
  answer(res, store.createMachine(row, m.identityRef, audit), (ok) =>
    ok
      ? send(res, 201, JSON.stringify({ item: m }))
      : send(res, 409, '{"error":{"code":"MACHINE_IDENTITY_EXISTS","message":"taken"}}'),
  );
}

function createOrder(store: LimitStore, req: IncomingMessage, res: ServerResponse, b: Record<string, unknown>): void {
  const token = req.headers['x-agent-pairing-token'] as string;
  const digest = createHash('sha256').update(token, 'utf8').digest('hex');
  answer(res, store.pairingByTokenDigest(digest), (p) => {
    if (!p) return send(res, 401, '{"error":{"code":"AGENT_AUTH_INVALID","message":"unknown token"}}');
    const pairing = pairingFrom(p as never);
    const service = catalog.service(b.serviceId as string)!;
    const spend = { delegationPolicy: pairing.delegationPolicy, machinePolicies: [], budget: null };
    const { amount, currency } = chargeOf(service, spend);
    const now = new Date();
    const at = now.toISOString();
    const order = newOrder(service, {
      id: newId('mor', now.getTime()),
      machineId: b.machineId as string,
      agentPairingId: pairing.id,
      searchId: null,
      quoteId: null,
      operation: service.operations[0]!,
      input: {},
      budget: null,
      amount,
      currency,
      at,
    });
    const audit = {
      id: newId('aev', now.getTime()),
      actor: `agent:${pairing.id}`,
      type: 'market.order.created',
      resource_type: 'market-order',
      resource_id: order.id,
      payload: JSON.stringify({
        machineId: order.machineId,
        agentPairingId: pairing.id,
        serviceId: order.serviceId,
        searchId: null,
        quoteId: null,
        amount,
        currency,
        defaultRail: order.payment.defaultRail,
      }),
      created_at: at,
    };
    const spendChecked = amount !== null && pairing.delegationPolicy.dailySpendLimit !== null;
    answer(res, store.createOrder(orderRow(order, at.slice(0, 10)), audit, spendChecked), () =>
      send(res, 201, JSON.stringify({ item: order })),
    );
  });
}

export function serveLimit(store: LimitStore): void {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'POST') {
      if (url === '/api/v1/machines') return readBody(req, (b) => createMachine(store, res, b));
      if (url === '/api/v1/market/orders') return readBody(req, (b) => createOrder(store, req, res, b));
    } else if (url === '/health') return send(res, 200, '{"ok":true}');
    else if (url.startsWith('/api/v1/machines?')) {
      const limit = Number(new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('limit') ?? 100);
      return answer(res, store.firstPage(limit + 1), (rows) => {
        const items = rows.slice(0, limit).map((r) => toMachine(r as unknown as MachineRow));
        const last = items[items.length - 1];
        send(
          res,
          200,
          JSON.stringify({
            items,
            ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.createdAt, last.id) } : {}),
          }),
        );
      });
    } else if (url.startsWith('/api/v1/machines/')) {
      return answer(res, store.machine(decodeURIComponent(url.slice('/api/v1/machines/'.length))), (row) =>
        row
          ? send(res, 200, JSON.stringify({ item: toMachine(row as unknown as MachineRow) }))
          : send(res, 404, '{"error":{"code":"NOT_FOUND","message":"Machine not found."}}'),
      );
    }
    res.writeHead(404);
    res.end();
  });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    console.error(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
  });
  // An orderly exit on a stop, so that Node options such as --cpu-prof write their output as they do for the server.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
}
