// Server processes for integration tests: the mock MCR and the orchestrator through their bins, the orchestrator
// the way `npm start` runs it (with package.json's config.serverNodeOptions). Every process is stopped by stopAll().
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import knexFactory from 'knex';
import { PG_URL } from './db.ts';

const procs = new Set<ChildProcess>();

export interface Launched {
  proc: ChildProcess;
  match: RegExpMatchArray;
  output(): string;
}

export function launch(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 20_000,
): Promise<Launched> {
  const serverOptions: string[] = (JSON.parse(readFileSync('package.json', 'utf8')).config?.serverNodeOptions ?? '')
    .split(' ')
    .filter(Boolean);
  const nodeArgs = args[0]!.endsWith('.ts')
    ? ['--import', 'tsx', ...args]
    : args[0]!.includes('orchestrator')
      ? [...serverOptions, '--enable-source-maps', ...args]
      : args;
  const proc = spawn(process.execPath, nodeArgs, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.add(proc);
  proc.on('exit', () => procs.delete(proc));
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(ready);
      if (m) resolve({ proc, match: m, output: () => out });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`)));
    setTimeout(() => reject(new Error(`timed out waiting for ${args.join(' ')}:\n${out}`)), timeoutMs).unref();
  });
}

/** The bins run dist/, which the suite's global set-up has built; this only checks it is there. */
export function buildServer(): void {
  if (!existsSync('dist/src/main.js'))
    throw new Error('dist/ is missing: the global set-up (npm run build) did not run');
}

export async function startMockMcr(): Promise<{ url: string; proc: ChildProcess }> {
  const mcr = await launch(['bin/peaqos-mock-mcr.js', '--port', '0'], {}, /mock MCR listening on (http:\/\/[\d.:]+)/);
  return { url: mcr.match[1]!, proc: mcr.proc };
}

export interface Orchestrator {
  url: string;
  proc: ChildProcess;
  output(): string;
}

/** Starts `peaqos-orchestrator serve` (bin/, as `npm start` runs it) on a free port of 127.0.0.1 with `env` on top of quiet test defaults. */
export async function startOrchestrator(env: Record<string, string>): Promise<Orchestrator> {
  buildServer();
  const server = await launch(
    ['bin/peaqos-orchestrator.js', 'serve'],
    {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
      PEAQOS_RUNTIME_PROBE_INTERVAL_MS: '0',
      PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '0',
      PEAQOS_RATE_LIMIT_CHALLENGES_PER_MINUTE: '0',
      ...env,
    },
    /listening on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  return { url: `http://127.0.0.1:${server.match[1]}`, proc: server.proc, output: server.output };
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    [...procs].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGTERM');
          setTimeout(() => p.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  );
}

/**
 * Two orchestrator processes on a database of their own on PostgreSQL (`PG_URL`), started together (their
 * migrations must not race either): replicas. `drop()` stops them and drops the database.
 */
export async function startPgReplicas(
  env: Record<string, string>,
): Promise<{ databaseUrl: string; replicas: Orchestrator[]; drop(): Promise<void> }> {
  const name = `peaqos_replicas_${randomBytes(5).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: PG_URL });
  await admin.raw(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL!);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const replicas = await Promise.all([
    startOrchestrator({ ...env, PEAQOS_DATABASE_URL: databaseUrl }),
    startOrchestrator({ ...env, PEAQOS_DATABASE_URL: databaseUrl }),
  ]);
  return {
    databaseUrl,
    replicas,
    drop: async () => {
      await Promise.all(
        replicas.map(
          (r) =>
            new Promise<void>((resolve) =>
              r.proc.exitCode !== null ? resolve() : (r.proc.once('exit', () => resolve()), r.proc.kill('SIGTERM')),
            ),
        ),
      );
      await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.destroy();
    },
  };
}
