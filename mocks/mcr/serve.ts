// npm run mock:mcr -- --port 8000
import { startMockMcr } from './server.ts';
import { didOf, defaultMachines } from './fixtures.ts';

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 8000;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('Usage: npm run mock:mcr -- --port N');
  process.exit(64);
}
const mock = await startMockMcr({ port });
console.log(`mock MCR listening on ${mock.url}`);
console.log(`point the orchestrator at it: PEAQOS_MCR_API_URL=${mock.url}`);
for (const m of defaultMachines()) {
  console.log(`  machine ${m.machineId}: ${m.wallet ? didOf(m.wallet) : '(zero-address wallet)'} ${m.bondStatus}${m.operator ? ` operator ${didOf(m.operator)}` : ''}`);
}
const stop = () => mock.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
