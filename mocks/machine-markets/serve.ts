// npm run mock:api -- --port 8081 [--latency MS] [--empty] [--mcr-url URL]
// With --mcr-url, identities resolve through that MCR (the conformance kit's mock MCR, say) instead of the
// built-in fixture fleet.
import { startMachineMarketsHttp } from './node.ts';

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(arg('--port') ?? 8081);
const latencyMs = Number(arg('--latency') ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isFinite(latencyMs)) {
  console.error('Usage: npm run mock:api -- --port N [--latency MS] [--empty] [--mcr-url URL]');
  process.exit(64);
}
const mock = await startMachineMarketsHttp({ port, latencyMs, seed: args.includes('--empty') ? 'empty' : 'default', mcrUrl: arg('--mcr-url') });
console.log(`Machine Markets mock API listening on ${mock.url}`);
const fx = (mock.api as typeof mock.api & { fixtures?: { machines: Record<string, string>; pairingTokens: Record<string, string> } }).fixtures;
if (fx) {
  for (const [name, id] of Object.entries(fx.machines)) console.log(`  machine ${name}: ${id}${fx.pairingTokens[id] ? `  x-agent-pairing-token: ${fx.pairingTokens[id]}` : ''}`);
}
const stop = () => mock.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
