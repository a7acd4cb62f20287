// Process lifecycle: SIGTERM to `npm start` under keep-alive load stops the server cleanly (exit 0, no orphaned
// process, no request reset), a request still running when the signal comes is answered, and past
// PEAQOS_SHUTDOWN_TIMEOUT_MS the server exits 1 and says how many requests it cut. The mock bins stop the same way.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { Agent, request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/ports.ts';

const started: ChildProcess[] = [];
afterAll(() => {
  for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
});

function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, out: () => out, exited };
}

async function until(url: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

/** GETs `path` over `agent` in a loop until stopped; counts answers and errors (resets). */
function keepAliveLoad(port: number, path: string, agent: Agent) {
  const stats = { ok: 0, errors: [] as string[], running: true };
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          stats.ok++;
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // Refused after the server stopped listening is the expected end of the load, not a reset.
        if (err.code !== 'ECONNREFUSED') stats.errors.push(err.code ?? err.message);
        stats.running = false;
        resolve();
      });
      req.end();
    });
  const loops = Array.from({ length: 8 }, async () => {
    while (stats.running) await one();
  });
  return { stats, stop: async () => ((stats.running = false), await Promise.all(loops)) };
}

describe('process lifecycle', () => {
  it('SIGTERM to `npm start` under keep-alive load: exit 0, no orphan, no reset request', async () => {
    const port = await freePort();
    const srv = run('npm', ['start'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      PEAQOS_DATABASE_URL: ':memory:',
      PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
      LOG_LEVEL: 'info',
      npm_config_loglevel: 'silent',
    });
    await until(`http://127.0.0.1:${port}/health`);
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const load = keepAliveLoad(port, '/health', agent);
    await new Promise((r) => setTimeout(r, 500));
    srv.proc.kill('SIGTERM');
    const code = await srv.exited;
    await load.stop();
    agent.destroy();
    // The output's end only: under load at info it is megabytes of access lines.
    const tail = () => srv.out().slice(-4000);
    expect(code, tail()).toBe(0);
    expect(load.stats.ok).toBeGreaterThan(100);
    expect(load.stats.errors, tail()).toEqual([]);
    expect(srv.out()).toMatch(/shutting down/);
    await new Promise((r) => setTimeout(r, 200));
    // No server process outlives npm (it would still answer on the port).
    const probe = await fetch(`http://127.0.0.1:${port}/health`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(probe).toBe('refused');
  }, 60_000);

  it('answers a request in flight when SIGTERM arrives; past the shutdown timeout it cuts, says so and exits 1', async () => {
    // A runtime endpoint that answers slowly keeps a request in flight (task execution calls it).
    const slow = createNetServer((s) =>
      s.on('data', () =>
        setTimeout(
          () => s.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'),
          1500,
        ),
      ),
    );
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}`;
    try {
      for (const [timeout, expectedCode] of [
        ['10000', 0],
        ['300', 1],
      ] as const) {
        const port = await freePort();
        const srv = run(process.execPath, ['bin/peaqos-orchestrator.js', 'serve'], {
          PORT: String(port),
          HOST: '127.0.0.1',
          PEAQOS_DATABASE_URL: ':memory:',
          PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
          PEAQOS_SHUTDOWN_TIMEOUT_MS: timeout,
          PEAQOS_RUNTIME_PROBE_INTERVAL_MS: '0',
        });
        const base = `http://127.0.0.1:${port}`;
        await until(`${base}/health`);
        const json = async (method: string, path: string, body?: unknown) =>
          (
            await fetch(`${base}${path}`, {
              method,
              headers: { 'content-type': 'application/json' },
              body: body === undefined ? undefined : JSON.stringify(body),
            })
          ).json() as Promise<{ item: { id: string } }>;
        const m = await json('POST', '/api/v1/machines', {
          displayName: 'x',
          ownerId: 'o',
          machineType: 't',
          runtimeProfile: 'p',
          identityRef: `peaqos:machine:${port}`,
        });
        await json('PATCH', `/api/v1/machines/${m.item.id}`, { status: 'active' });
        await json('PUT', `/api/v1/machines/${m.item.id}/runtime-endpoints/qvac`, { endpointBaseUrl: slowUrl });
        const t = await json('POST', `/api/v1/machines/${m.item.id}/tasks`, {
          serviceType: 'compute.marketplace',
          taskType: 'x',
          operation: 'chat.completions',
        });
        await json('POST', `/api/v1/machines/${m.item.id}/tasks/${t.item.id}/resolve`, {});
        const inFlight = fetch(`${base}/api/v1/machines/${m.item.id}/tasks/${t.item.id}/execute`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }).then(
          (r) => r.status,
          () => 'reset',
        );
        await new Promise((r) => setTimeout(r, 300));
        srv.proc.kill('SIGTERM');
        const code = await srv.exited;
        expect(code, srv.out()).toBe(expectedCode);
        if (expectedCode === 0) expect(await inFlight).toBe(200);
        else {
          expect(await inFlight).toBe('reset');
          expect(srv.out()).toMatch(/1 request\(s\) cut/);
        }
      }
    } finally {
      slow.close();
    }
  }, 60_000);

  it.each([
    ['peaqos-mock-mcr', /mock MCR listening on (http:\/\/[\d.:]+)/, '/health'],
    ['peaqos-mock-api', /mock API listening on (http:\/\/[\d.:]+)/, '/api/v1/machines'],
  ])('%s stops on SIGTERM with exit 0, and a port in use is one line', async (bin, ready, path) => {
    const p = run(process.execPath, [`bin/${bin}.js`, '--port', '0'], {});
    const deadline = Date.now() + 20_000;
    while (!ready.test(p.out()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const url = ready.exec(p.out())![1]!;
    expect((await fetch(`${url}${path}`)).status).toBe(200);
    const busy = spawnSync(process.execPath, [`bin/${bin}.js`, '--port', new URL(url).port], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(busy.status).toBe(69);
    expect(busy.stderr.trim().split('\n')).toHaveLength(1);
    expect(busy.stderr).toMatch(/already in use/);
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it("the conformance kit's mock MCR port in use is one line with the way out", async () => {
    const holder = createNetServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const r = spawnSync(
      process.execPath,
      ['bin/peaqos-conformance.js', '--base-url', 'http://127.0.0.1:9', '--mcr-port', String(port)],
      { encoding: 'utf8', timeout: 30_000 },
    );
    holder.close();
    expect(r.status).toBe(69);
    expect(r.stderr).toMatch(/already in use.*--mcr-port/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the orchestrator bin answers --help and --version, and a port in use is one line', async () => {
    const help = spawnSync(process.execPath, ['bin/peaqos-orchestrator.js', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: peaqos-orchestrator/);
    const v = spawnSync(process.execPath, ['bin/peaqos-orchestrator.js', '--version'], { encoding: 'utf8' });
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const holder = createNetServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const busy = spawnSync(process.execPath, ['bin/peaqos-orchestrator.js', 'serve'], {
      encoding: 'utf8',
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', PEAQOS_DATABASE_URL: ':memory:' },
      timeout: 20_000,
    });
    holder.close();
    expect(busy.status).toBe(69);
    expect(busy.stderr).toMatch(/already in use/);
    expect(busy.stderr).not.toMatch(/\n\s+at /);
  });
});
