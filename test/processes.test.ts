// The orchestrator and the mock MCR as separate processes talking real HTTP: register and activate a machine
// with a signed proof, then watch MCR go down. The orchestrator is the compiled bundle `npm start` runs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractClient } from './helpers/contract-client.ts';
import { machineBody, machineDid, machineProof, machineWallet } from './helpers/identity.ts';

const procs: ChildProcess[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'peaqos-proc-'));

function launch(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ proc: ChildProcess; match: RegExpMatchArray }> {
  // The bundle runs the way `npm start` runs it: with package.json's config.serverNodeOptions.
  const serverOptions: string[] = (JSON.parse(readFileSync('package.json', 'utf8')).config?.serverNodeOptions ?? '').split(' ').filter(Boolean);
  const nodeArgs = args[0]!.endsWith('.ts') ? ['--import', 'tsx', ...args] : [...serverOptions, '--enable-source-maps', ...args];
  const proc = spawn(process.execPath, nodeArgs, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(ready);
      if (m) resolve({ proc, match: m });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`)));
    setTimeout(() => reject(new Error(`timed out waiting for ${args.join(' ')}:\n${out}`)), 20_000).unref();
  });
}

let api: ContractClient;
let mcrUrl: string;

beforeAll(async () => {
  const mcr = await launch(['mocks/mcr/serve.ts', '--port', '0'], {}, /mock MCR listening on (http:\/\/[\d.:]+)/);
  mcrUrl = mcr.match[1]!;
  const build = spawnSync('npm', ['run', 'build'], { encoding: 'utf8' });
  expect(build.status, build.stderr).toBe(0);
  const server = await launch(
    ['dist/main.js', 'serve'],
    { PORT: '0', HOST: '127.0.0.1', PEAQOS_MCR_API_URL: mcrUrl, PEAQOS_MCR_CACHE_TTL_MS: '0', PEAQOS_DATABASE_URL: join(dataDir, 'orchestrator.sqlite'), LOG_LEVEL: 'info', NODE_ENV: 'test' },
    /listening on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  api = new ContractClient(`http://127.0.0.1:${server.match[1]}`);
}, 40_000);

afterAll(() => {
  for (const p of procs) p.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('separate processes over HTTP', () => {
  it('registers, activates, reads back, and reports MCR outages', async () => {
    const ref = machineDid(3);
    const created = await api.post('/api/v1/machines', machineBody(ref, { identityProof: await machineProof(api, ref, machineWallet(3)) }));
    expect(created.status).toBe(201);
    const id = created.body.item.id;
    expect((await api.patch(`/api/v1/machines/${id}`, { status: 'active' })).body.item.status).toBe('active');
    expect((await api.get(`/api/v1/machines/${id}`)).body.item.identityProof.signerAddress).toBe(machineWallet(3).address);
    expect((await api.get('/api/v1/readiness')).body.status).toBe('ready');
    await fetch(`${mcrUrl}/__control/failure`, { method: 'POST', body: JSON.stringify({ mode: '503' }), headers: { 'content-type': 'application/json' } });
    const down = await api.get(`/api/v1/machines/${id}`);
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('PEAQOS_IDENTITY_UNAVAILABLE');
    await fetch(`${mcrUrl}/__control/machines/3`, { method: 'DELETE' });
    await fetch(`${mcrUrl}/__control/failure`, { method: 'POST', body: JSON.stringify({ mode: 'none' }), headers: { 'content-type': 'application/json' } });
    expect((await api.get(`/api/v1/machines/${id}`)).body.error.code).toBe('MACHINE_NOT_ACTIVATED');
  });
});
