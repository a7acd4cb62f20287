// What bench/run.ts and bench/quick.ts share: the servers compiled as `npm start` would run them, the reference
// server's Node options, and a process's CPU time.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

/** Compiles every server in bench/servers/ with esbuild into dist/bench/ (plain Node runs them). */
export async function buildBenchServers(): Promise<void> {
  await build({
    entryPoints: [
      'bench/servers/reference.ts',
      'bench/servers/bare-http.ts',
      'bench/servers/bare-express.ts',
      'bench/servers/limit-sqlite.ts',
      'bench/servers/fastify-sqlite.ts',
      'bench/servers/limit-pg.ts',
    ],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    outdir: 'dist/bench',
    logLevel: 'warning',
  });
}

/** `npm start`'s Node options (package.json config.serverNodeOptions), which the reference server runs with. */
export const SERVER_NODE_OPTIONS: string[] = (
  JSON.parse(readFileSync('package.json', 'utf8')).config?.serverNodeOptions ?? ''
)
  .split(' ')
  .filter(Boolean);

/** CPU time (user + system) a process has used, in microseconds. */
export function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100; // clock ticks (USER_HZ = 100)
}
