// peaqos-mock-api --port N [--host H] [--latency MS] [--empty] [--mcr-url URL]: the stateful Machine Markets mock
// over HTTP. With --mcr-url, identities other than the fixture fleet resolve through that MCR (the conformance
// kit's mock MCR, say).
import { startMachineMarketsHttp } from './node.ts';
import { parseOrExit, portOrExit, startOrExit, stopOnSignals } from '../cli-support.ts';

export const USAGE = `Usage: peaqos-mock-api [--port N] [--host H] [--latency MS] [--empty] [--mcr-url URL] [--cors-origins LIST]
  A stateful mock of the whole Machine Markets API, seeded with machines, pairings and orders.
  --port N       port to listen on (default 8081; 0 picks a free one)
  --host H       address to listen on (default 127.0.0.1)
  --latency MS   delay every response
  --empty        start with no data instead of the seed
  --mcr-url URL  resolve identities other than the fixture fleet through this MCR
  --cors-origins LIST  comma-separated origins browsers may call from (default *; "" for none)`;

export async function main(argv: string[]): Promise<void> {
  const o = parseOrExit(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      latency: { type: 'string' },
      empty: { type: 'boolean' },
      'mcr-url': { type: 'string' },
      'cors-origins': { type: 'string' },
    },
    USAGE,
  );
  const port = portOrExit(o.port, 8081, USAGE);
  const latencyMs = Number(o.latency ?? 0);
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    console.error(`--latency must be a number of milliseconds.\n${USAGE}`);
    process.exit(64);
  }
  const mock = await startOrExit(() =>
    startMachineMarketsHttp({
      port,
      host: o.host ?? '127.0.0.1',
      latencyMs,
      seed: o.empty ? 'empty' : 'default',
      mcrUrl: o['mcr-url'],
      corsOrigins:
        o['cors-origins'] === undefined
          ? ['*']
          : o['cors-origins']
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean),
    }),
  );
  console.log(`Machine Markets mock API listening on ${mock.url}`);
  const fx = (
    mock.api as typeof mock.api & {
      fixtures?: { machines: Record<string, string>; pairingTokens: Record<string, string> };
    }
  ).fixtures;
  if (fx) {
    for (const [name, id] of Object.entries(fx.machines))
      console.log(
        `  machine ${name}: ${id}${fx.pairingTokens[id] ? `  x-agent-pairing-token: ${fx.pairingTokens[id]}` : ''}`,
      );
  }
  stopOnSignals((ms) => mock.shutdown(ms));
}
