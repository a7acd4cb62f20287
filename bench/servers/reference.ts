// The reference server for benchmarks: the same createApp as `npm start`, compiled with esbuild and run with
// plain node by bench/run.ts.
import { createServer } from 'node:http';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createReadDb, openStore } from '../../src/store/db.ts';
import { systemClock } from '../../src/clock.ts';
import { createApp } from '../../src/app.ts';

const started = performance.now();
const config = loadConfig();
const db = await openStore(config.databaseUrl);
const readDb = createReadDb(config.databaseUrl);
const { app, services } = await createApp({
  config,
  db,
  readDb,
  clock: systemClock,
  logger: createLogger(config.logLevel),
});
const server = createServer(app);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.error(
    `listening on http://127.0.0.1:${(server.address() as { port: number }).port} startupMs=${Math.round(performance.now() - started)}`,
  );
});
// Standard output carries the access log (at LOG_LEVEL, info unless set); the listening line goes to standard
// error. On any input on stdin the server prints the MCR calls it made and its memory usage, for diagnosing a run.
process.stdin.on('data', () =>
  console.error(`mcrRequests=${services.mcr.requestsSent} memory=${JSON.stringify(process.memoryUsage())}`),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
