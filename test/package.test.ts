// The package as its three users get it: `npm pack`, installed into an empty project with production
// dependencies only. Every bin answers --help; the orchestrator bin serves and the conformance bin passes against
// it; both mock bins answer; every export imports from plain Node ESM and one function of each works; and a
// TypeScript consumer type-checks against the shipped declarations.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/ports.ts';

const dir = mkdtempSync(join(tmpdir(), 'peaqos-package-'));
const procs: ChildProcess[] = [];
const bin = (name: string) => join(dir, 'node_modules', '.bin', name);

afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? dir,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeout ?? 60_000,
  });
  return { ...r, all: `${r.stdout}\n${r.stderr}` };
}

function startBin(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpMatchArray }> {
  const proc = spawn(bin(name), args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  return new Promise((resolvePromise, reject) => {
    const on = (d: Buffer) => {
      out += d;
      const m = ready.exec(out);
      if (m) resolvePromise({ proc, match: m });
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.once('exit', (code) => reject(new Error(`${name} exited ${code}:\n${out}`)));
    setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 30_000).unref();
  });
}

/** Like sh, without blocking the test worker (an install compiles better-sqlite3 for about a minute). */
function shAsync(
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): Promise<{ status: number | null; all: string }> {
  return new Promise((done) => {
    const p = spawn(cmd, args, { cwd: opts.cwd ?? dir, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let all = '';
    p.stdout!.on('data', (d) => (all += d));
    p.stderr!.on('data', (d) => (all += d));
    p.once('exit', (status) => done({ status, all }));
  });
}

beforeAll(async () => {
  // dist/ is built by the suite's global set-up; --ignore-scripts keeps other test files' dist/ untouched.
  const pack = await shAsync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], {
    cwd: process.cwd(),
  });
  expect(pack.status, pack.all).toBe(0);
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      private: true,
      type: 'module',
      allowScripts: { 'better-sqlite3': true, msw: true },
    }),
  );
  const install = await shAsync('npm', [
    'install',
    '--omit=dev',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    join(dir, tarball),
  ]);
  expect(install.status, install.all).toBe(0);
  // Production dependencies only: no compiler, no test runner, no TypeScript runner.
  for (const dev of ['typescript', 'tsx', 'vitest', 'esbuild'])
    expect(
      sh('node', ['-e', `import('${dev}').then(()=>process.exit(1),()=>process.exit(0))`]).status,
      `${dev} installed`,
    ).toBe(0);
}, 660_000);

describe('the installed package', () => {
  it.each(['peaqos-orchestrator', 'peaqos-conformance', 'peaqos-mock-mcr', 'peaqos-mock-api'])('%s --help', (name) => {
    const r = sh(bin(name), ['--help']);
    expect(r.status, r.all).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Usage: ${name}`));
  });

  it('serves with the orchestrator bin, and the conformance bin passes against it', async () => {
    const mcrPort = await freePort();
    const orchestrator = await startBin(
      'peaqos-orchestrator',
      ['serve'],
      {
        PORT: '0',
        HOST: '127.0.0.1',
        PEAQOS_DATABASE_URL: join(dir, 'data', 'orchestrator.sqlite'),
        PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}`,
        PEAQOS_MCR_CACHE_TTL_MS: '0',
        PEAQOS_MCR_REQUESTS_PER_MINUTE: '0',
        PEAQOS_MACHINE_IDENTITY_CHALLENGE_TTL_MS: '2000',
        PEAQOS_AGENT_PAIRING_CHALLENGE_TTL_MS: '2000',
      },
      /listening on http:\/\/127\.0\.0\.1:(\d+)/,
    );
    const url = `http://127.0.0.1:${orchestrator.match[1]}`;
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ ok: true });
    const kit = sh(
      bin('peaqos-conformance'),
      ['--base-url', url, '--mcr-port', String(mcrPort), '--reporter', 'json', '--out', join(dir, 'report.json')],
      { timeout: 120_000 },
    );
    expect(kit.status, kit.all).toBe(0);
    expect(kit.stdout).toMatch(/passed/);
    orchestrator.proc.kill('SIGTERM');
    expect(await new Promise((r) => orchestrator.proc.once('exit', r))).toBe(0);
  }, 180_000);

  it('runs both mock bins', async () => {
    const mcr = await startBin('peaqos-mock-mcr', ['--port', '0'], {}, /mock MCR listening on (http:\/\/[\d.:]+)/);
    expect((await fetch(`${mcr.match[1]}/health`)).status).toBe(200);
    const api = await startBin('peaqos-mock-api', ['--port', '0'], {}, /mock API listening on (http:\/\/[\d.:]+)/);
    const machines = (await (await fetch(`${api.match[1]}/api/v1/machines`)).json()) as { items: unknown[] };
    expect(machines.items.length).toBeGreaterThan(0);
    for (const p of [mcr.proc, api.proc]) p.kill('SIGTERM');
  });

  it('imports every export from plain Node ESM and calls one function of each', () => {
    writeFileSync(
      join(dir, 'use.mjs'),
      `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer, ERROR_STATUS, version } from 'peaqos-machine-markets';
import { createClient, getHealth, listMachines } from 'peaqos-machine-markets/client';
import { setupMachineMarketsServer, createMockApi } from 'peaqos-machine-markets/mocks';
import { setupMachineMarketsWorker, createMockApi as createBrowserMockApi } from 'peaqos-machine-markets/mocks/browser';
import { startMockMcr, defaultMachines } from 'peaqos-machine-markets/mocks/mcr';
import { runConformance, GROUPS } from 'peaqos-machine-markets/conformance';
import { createMachineMarketsMiddleware } from 'peaqos-machine-markets/express';
import { parse } from 'yaml';

const out = {};
const server = await startServer({ env: { PORT: '0', HOST: '127.0.0.1', PEAQOS_DATABASE_URL: ':memory:', PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled', LOG_LEVEL: 'silent' } });
const client = createClient({ baseUrl: server.url });
out.health = (await getHealth({ client })).data;
out.machines = (await listMachines({ client })).data.items.length;
const report = await runConformance({ baseUrl: server.url, identity: false, only: ['health'] });
out.conformance = report.summary;
out.closed = await server.close();
const spec = parse(readFileSync(fileURLToPath(import.meta.resolve('peaqos-machine-markets/openapi.yaml')), 'utf8'));
out.operations = Object.keys(spec.paths).length;
const mock = await createMockApi({ spec });
out.mockMachines = (await mock.call('listMachines')).body.items.length;
const { api } = await setupMachineMarketsServer();
out.nodeMock = typeof api.reset;
out.browser = typeof setupMachineMarketsWorker === 'function' && (await (await createBrowserMockApi({ spec, seed: 'empty' })).call('listPolicies')).status;
const mcr = await startMockMcr();
out.mcr = (await fetch(mcr.url + '/health')).status;
out.fleet = defaultMachines().length;
await mcr.close();
out.errors = ERROR_STATUS.NOT_FOUND;
out.version = version();
out.groups = GROUPS.length;
const mw = await createMachineMarketsMiddleware({ env: { PEAQOS_DATABASE_URL: ':memory:', LOG_LEVEL: 'silent' } });
out.express = mw.orchestrator.owns('/api/v1/machines') && !mw.orchestrator.owns('/elsewhere');
await mw.close();
console.log(JSON.stringify(out));
process.exit(0);
`,
    );
    const r = sh('node', ['use.mjs'], { timeout: 60_000 });
    expect(r.status, r.all).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({
      health: { ok: true },
      machines: 0,
      conformance: { failed: 0 },
      closed: { cut: 0 },
      mockMachines: expect.any(Number),
      nodeMock: 'function',
      browser: 200,
      mcr: 200,
      errors: 404,
      express: true,
    });
    expect(out.conformance.passed).toBeGreaterThan(0);
    expect(out.operations).toBeGreaterThan(40);
    expect(out.mockMachines).toBeGreaterThan(0);
  }, 120_000);

  it('type-checks a TypeScript consumer against the shipped declarations', () => {
    writeFileSync(
      join(dir, 'consumer.ts'),
      `
import { startServer, type Config, type RunningOrchestrator } from 'peaqos-machine-markets';
import { createClient, createMarketOrder, type MarketOrderRecord } from 'peaqos-machine-markets/client';
import { createMockApi, type MockApi } from 'peaqos-machine-markets/mocks';
import { runConformance, type Report } from 'peaqos-machine-markets/conformance';

export async function use(): Promise<[RunningOrchestrator, MockApi, Report, MarketOrderRecord | undefined, Config['port']]> {
  const s = await startServer({ config: { port: 0 } });
  const client = createClient({ baseUrl: s.url });
  const order = await createMarketOrder({ client, body: { machineId: 'm', serviceId: 's' }, headers: { 'Idempotency-Key': 'k' } });
  const api = await createMockApi({ spec: {} });
  const report = await runConformance({ baseUrl: s.url });
  return [s, api, report, order.data?.item, s.config.port];
}
`,
    );
    const tsc = createRequire(resolve('package.json')).resolve('typescript/bin/tsc');
    const r = sh('node', [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--types',
      'node',
      '--typeRoots',
      resolve('node_modules/@types'),
      'consumer.ts',
    ]);
    expect(r.status, r.all).toBe(0);
  }, 60_000);
});
