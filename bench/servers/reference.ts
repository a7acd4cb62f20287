// The reference server for benchmarks: startServer, what `npm start` (peaqos-orchestrator serve) runs: the same
// configuration, store, socket limits and graceful shutdown. Compiled with esbuild and run with plain node by
// bench/run.ts and bench/quick.ts, with `npm start`'s Node options.
import { startServer } from '../../src/server.ts';

const started = performance.now();
const server = await startServer({ env: { ...process.env, HOST: '127.0.0.1', PORT: process.env.PORT ?? '0' } });
console.error(`listening on ${server.url} startupMs=${Math.round(performance.now() - started)}`);
// Standard output carries the access log (at LOG_LEVEL, info unless set); the listening line goes to standard
// error. On any input on stdin the server prints the MCR calls it made and its memory usage, for diagnosing a run.
process.stdin.on('data', () =>
  console.error(`mcrRequests=${server.services.mcr.requestsSent} memory=${JSON.stringify(process.memoryUsage())}`),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
