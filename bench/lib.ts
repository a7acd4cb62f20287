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

/** /proc's clock ticks (USER_HZ = 100) in microseconds. */
const ticksToMicros = (ticks: number) => (ticks * 1_000_000) / 100;

/** CPU time (user + system) a process has used, in microseconds. */
export function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ticksToMicros(Number(fields[11]) + Number(fields[12]));
}

/** CPU time used by the whole machine so far (every process: server, database, load generator), in µs. */
export function machineCpuMicros(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait was work.
  return ticksToMicros(cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!);
}
