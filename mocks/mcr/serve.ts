// peaqos-mock-mcr --port N [--host H]: the mock peaqOS MCR over HTTP, with its fixture fleet.
import { startMockMcr } from './server.ts';
import { didOf, defaultMachines } from './fixtures.ts';
import { parseOrExit, portOrExit, startOrExit, stopOnSignals } from '../cli-support.ts';

export const USAGE = `Usage: peaqos-mock-mcr [--port N] [--host H]
  A mock of the peaqOS MCR API (the fixture fleet, and /__control to change it) for orchestrators under test.
  --port N   port to listen on (default 8000; 0 picks a free one)
  --host H   address to listen on (default 127.0.0.1)`;

export async function main(argv: string[]): Promise<void> {
  const o = parseOrExit(argv, { port: { type: 'string' }, host: { type: 'string' } }, USAGE);
  const port = portOrExit(o.port, 8000, USAGE);
  const mock = await startOrExit(() => startMockMcr({ port, host: o.host ?? '127.0.0.1' }));
  console.log(`mock MCR listening on ${mock.url}`);
  console.log(`point the orchestrator at it: PEAQOS_MCR_API_URL=${mock.url}`);
  for (const m of defaultMachines()) {
    console.log(
      `  machine ${m.machineId}: ${m.wallet ? didOf(m.wallet) : '(zero-address wallet)'} ${m.bondStatus}${m.operator ? ` operator ${didOf(m.operator)}` : ''}`,
    );
  }
  stopOnSignals((ms) => mock.shutdown(ms));
}
