// In-process cost of routing and request validation: the contract's route table and validator (src/contract/)
// against openapi-backend's public router and validator on the same openapi.yaml, which is what the server used
// before. Every operation's path is matched in turn; validation runs on a path-parameter read and a JSON body.
// Run alone with `npx tsx bench/routing.ts`; `npm run bench` includes it.
import { OpenAPIBackend, type Document } from 'openapi-backend';
import { addContractKeywords } from '../src/contract/keywords.ts';
import { contractValidator, loadSpec } from '../src/contract/spec.ts';

export interface RoutingResult {
  /** Nanoseconds per match, averaged over every operation's path. */
  matchNs: { table: number; openapiBackend: number };
  /** Nanoseconds per request validated (GET /machines/{id} and POST /policies alternately). */
  validateNs: { contract: number; openapiBackend: number };
}

const time = (n: number, fn: (i: number) => void): number => {
  for (let i = 0; i < Math.min(n, 2_000); i++) fn(i); // warm-up: compile and optimise first
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / n;
};

export async function routingBench(iterations = 200_000): Promise<RoutingResult> {
  const spec = loadSpec();
  const validator = contractValidator();
  const api = new OpenAPIBackend({
    definition: structuredClone(spec) as Document,
    quick: true,
    validate: true,
    strict: false,
    ajvOpts: { strict: false, allErrors: true },
    customizeAjv: (ajv) => addContractKeywords(ajv),
  });
  await api.init();

  const paths = validator.routes.routes().map((r) => ({
    method: r.method,
    path: r.template.replace(/\{([^}]+)\}/g, (_, name: string) => `sample-${name}`),
  }));
  const table = time(iterations, (i) => {
    const p = paths[i % paths.length]!;
    validator.routes.match(p.method, p.path);
  });
  const backend = time(Math.ceil(iterations / 10), (i) => {
    const p = paths[i % paths.length]!;
    api.router.matchOperation({ method: p.method, path: p.path, headers: {} });
  });

  const getMachine = { params: { machineId: 'mch_0123456789' }, query: {}, body: undefined, hasBody: false };
  const createPolicy = {
    params: {},
    query: {},
    body: { name: 'bench', budgetCap: { amount: 10, currency: 'USDT' }, regionRules: ['eu-central'], nativeOnly: true },
    hasBody: true,
  };
  const contract = time(iterations, (i) =>
    i % 2
      ? validator.validateRequest('getMachine', getMachine)
      : validator.validateRequest('createPolicy', createPolicy),
  );
  const getOp = api.router.getOperation('getMachine')!;
  const postOp = api.router.getOperation('createPolicy')!;
  const backendValidate = time(Math.ceil(iterations / 10), (i) =>
    i % 2
      ? api.validator.validateRequest(
          { method: 'get', path: '/api/v1/machines/mch_0123456789', headers: {}, query: {} },
          getOp,
        )
      : api.validator.validateRequest(
          {
            method: 'post',
            path: '/api/v1/policies',
            headers: { 'content-type': 'application/json' },
            query: {},
            body: createPolicy.body,
          },
          postOp,
        ),
  );
  return {
    matchNs: { table: Math.round(table), openapiBackend: Math.round(backend) },
    validateNs: { contract: Math.round(contract), openapiBackend: Math.round(backendValidate) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await routingBench();
  console.log(
    `match: table ${r.matchNs.table} ns, openapi-backend ${r.matchNs.openapiBackend} ns (${(r.matchNs.openapiBackend / r.matchNs.table).toFixed(1)}x)`,
  );
  console.log(
    `validate: contract ${r.validateNs.contract} ns, openapi-backend ${r.validateNs.openapiBackend} ns (${(r.validateNs.openapiBackend / r.validateNs.contract).toFixed(1)}x)`,
  );
}
