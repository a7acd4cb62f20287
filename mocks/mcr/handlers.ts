// MSW handlers implementing the documented MCR API over a McrRegistry, with FastAPI-style error bodies
// (`{detail}`; 422 with FastAPI's validation list for bad params). Usable with setupServer (in-process) and
// over real HTTP (serve.ts). Paths match any origin, so the same handlers serve `http://mcr.test` in tests.
import { delay, http, HttpResponse, type HttpHandler } from 'msw';
import { CHAIN_ID, REGISTRY_ADDRESS, ZERO_ADDRESS, didOf, rating, type McrMachine } from './fixtures.ts';
import type { McrRegistry } from './registry.ts';

const detail = (status: number, message: string) => HttpResponse.json({ detail: message }, { status });

function validation422(loc: (string | number)[], msg: string, type: string) {
  return HttpResponse.json({ detail: [{ loc, msg, type }] }, { status: 422 });
}

function positiveInt(raw: string, name: string): number | Response {
  if (!/^-?\d+$/.test(raw))
    return validation422(
      ['path', name],
      'Input should be a valid integer, unable to parse string as an integer',
      'int_parsing',
    );
  const n = Number(raw);
  if (n < 1) return validation422(['path', name], 'Input should be greater than or equal to 1', 'greater_than_equal');
  return n;
}

/** Accepts `did:peaq:0x...` or a raw `0x...` address; returns the address or a 400 response. */
function parseDid(raw: string): string | Response {
  const v = decodeURIComponent(raw).trim();
  if (v === '' || v === 'did:peaq:') return detail(400, 'Empty DID');
  const addr = v.startsWith('did:peaq:') ? v.slice('did:peaq:'.length) : v;
  if (!/^0x[0-9a-fA-F]{40}$/.test(addr)) return detail(400, 'Invalid Ethereum address format');
  return addr;
}

function profile(m: McrMachine) {
  const peaqos: Record<string, unknown> = {
    machine_id: m.machineId,
    did: m.wallet ? didOf(m.wallet) : `did:peaq:${ZERO_ADDRESS}`,
    operator: m.operator ? didOf(m.operator) : null,
    mcr: rating(m.mcrScore, m.bondStatus, m.eventCount),
    mcr_score: m.bondStatus === 'bonded' && m.eventCount > 0 ? m.mcrScore : 0,
    bond_status: m.bondStatus,
    negative_flag: false,
    event_count: m.eventCount,
    data_visibility: m.dataVisibility,
    documentation_url: m.documentationUrl,
  };
  if (m.dataVisibility === 'private' && m.dataApi) peaqos.data_api = m.dataApi;
  if (m.dataVisibility === 'onchain') peaqos.event_data = [];
  if (m.dataVisibility === 'public') {
    peaqos.partner_data = null;
    peaqos.partner_data_error = m.dataApi ? null : 'No data_api attribute configured';
  }
  return { schema_version: '1.0', name: m.tokenId ? `Machine #${m.tokenId}` : 'Machine (no NFT)', peaqos };
}

function card(m: McrMachine) {
  return {
    type: 'peaqos:registration:v1',
    name: `Machine #${m.machineId}`,
    description: 'peaqOS machine',
    did: didOf(m.wallet!),
    active: true,
    services: m.dataApi ? [{ name: 'web', endpoint: m.dataApi }] : [],
    data_visibility: m.dataVisibility,
    documentation_url: m.documentationUrl ?? '',
    operator: m.operator ? didOf(m.operator) : null,
    bond_status: m.bondStatus,
    event_count: m.eventCount,
    registrations: [
      {
        type: 'peaqos:registration:v1',
        machineId: m.machineId,
        machineRegistry: `eip155:${CHAIN_ID}:${REGISTRY_ADDRESS}`,
      },
    ],
  };
}

function mcr(m: McrMachine, did: string) {
  const score = m.bondStatus === 'bonded' && m.eventCount > 0 ? m.mcrScore : 0;
  const revenue = Math.floor(m.eventCount / 2);
  return {
    did,
    machine_id: m.machineId,
    mcr_score: score,
    mcr: rating(m.mcrScore, m.bondStatus, m.eventCount),
    mcr_degraded: false,
    bond_status: m.bondStatus,
    negative_flag: false,
    event_count: m.eventCount,
    revenue_event_count: revenue,
    activity_event_count: m.eventCount - revenue,
    revenue_trend: m.eventCount < 4 ? 'insufficient' : 'stable',
    total_revenue: revenue * 5000,
    average_revenue_per_event: revenue ? 5000.0 : 0,
    last_updated: 1_711_900_000,
  };
}

/** `base` is the origin the handlers answer for (`*` = any origin, for the standalone HTTP server). */
export function createMcrHandlers(registry: McrRegistry, base = '*'): HttpHandler[] {
  // Failure modes apply to every route but /health, so readiness and data failures can be told apart.
  const failure = async (): Promise<Response | undefined> => {
    registry.requests++;
    switch (registry.failure) {
      case '503':
        return detail(503, 'Chain unavailable');
      case '500':
        return detail(500, 'Internal Server Error');
      case '429':
        return detail(429, 'Too Many Requests');
      case 'hang':
        await delay('infinite');
        return undefined;
      default:
        return undefined;
    }
  };

  return [
    http.get(`${base}/health`, async () => {
      registry.requests++;
      if (registry.failure === 'hang') await delay('infinite');
      return HttpResponse.json({ status: 'ok' });
    }),
    http.get(`${base}/ready`, async () => {
      const f = await failure();
      const ok = !f;
      const contracts = {
        identity_registry: ok,
        identity_staking: ok,
        event_registry: ok,
        machine_nft: ok,
        admin_flags: ok,
        did_registry: ok,
      };
      return HttpResponse.json(
        { status: ok ? 'ready' : 'not_ready', rpc_connected: ok, contracts },
        { status: ok ? 200 : 503 },
      );
    }),
    http.get(`${base}/machines/:machineId`, async ({ params }) => {
      const f = await failure();
      if (f) return f;
      const id = positiveInt(String(params.machineId), 'machine_id');
      if (typeof id !== 'number') return id;
      const m = registry.byId(id);
      if (!m) return detail(404, 'Machine not found');
      if (!m.wallet) return detail(404, 'Machine wallet not found');
      return HttpResponse.json(card(m));
    }),
    http.get(`${base}/machine/:did`, async ({ params }) => {
      const f = await failure();
      if (f) return f;
      const addr = parseDid(String(params.did));
      if (typeof addr !== 'string') return addr;
      const m = registry.byAddress(addr);
      if (!m) return detail(404, 'Machine not registered');
      return HttpResponse.json(profile(m));
    }),
    http.get(`${base}/mcr/:did`, async ({ params }) => {
      const f = await failure();
      if (f) return f;
      const raw = decodeURIComponent(String(params.did));
      const addr = parseDid(raw);
      if (typeof addr !== 'string') return addr;
      const m = registry.byAddress(addr);
      if (!m) return detail(404, 'Machine not registered');
      return HttpResponse.json(mcr(m, raw));
    }),
    http.get(`${base}/metadata/:tokenId`, async ({ params }) => {
      const f = await failure();
      if (f) return f;
      const id = positiveInt(String(params.tokenId), 'token_id');
      if (typeof id !== 'number') return id;
      const m = registry.byToken(id);
      if (!m) return detail(404, 'Token not found');
      return HttpResponse.json(profile(m));
    }),
    http.get(`${base}/operator/:did/machines`, async ({ params, request }) => {
      const f = await failure();
      if (f) return f;
      const raw = decodeURIComponent(String(params.did));
      const addr = parseDid(raw);
      if (typeof addr !== 'string') return addr;
      const url = new URL(request.url);
      const offsetRaw = url.searchParams.get('offset') ?? '0';
      const limitRaw = url.searchParams.get('limit') ?? '20';
      if (!/^\d+$/.test(offsetRaw))
        return validation422(['query', 'offset'], 'Input should be greater than or equal to 0', 'greater_than_equal');
      if (!/^\d+$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > 20) {
        return validation422(['query', 'limit'], 'Input should be less than or equal to 20', 'less_than_equal');
      }
      const offset = Number(offsetRaw);
      const limit = Number(limitRaw);
      const fleet = registry
        .byOperator(addr)
        .filter((m) => m.wallet)
        .slice(0, 100);
      return HttpResponse.json({
        operator_did: raw,
        machines: fleet.slice(offset, offset + limit).map((m) => ({
          did: didOf(m.wallet!),
          machine_id: m.machineId,
          mcr_score: m.mcrScore,
          mcr: rating(m.mcrScore, m.bondStatus, m.eventCount),
          negative_flag: false,
        })),
        pagination: { offset, limit, total: fleet.length },
      });
    }),
  ];
}
