// The conformance kit: it passes against the reference server (started by the README's command, with the kit's
// mock MCR), and it reports each deliberately broken behaviour.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { runConformance } from '../conformance/run.ts';
import { junit } from '../conformance/report.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { startBrokenProxy, type Fault } from './helpers/broken-proxy.ts';
import { freePort } from './helpers/ports.ts';

const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGTERM')));

async function startReferenceServer(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  // The README's command: npm start.
  const child = spawn('npm', ['start'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PEAQOS_DATABASE_URL: ':memory:',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push({ kill: () => process.kill(-child.pid!, 'SIGTERM') } as unknown as ChildProcess);
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return url;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`reference server did not start:\n${log}`);
}

describe('conformance kit against the reference server', () => {
  it('passes the reference profile (all groups) and the documented profile', async () => {
    const mcrPort = await freePort();
    // An agent-scoped key for the role matrix; a challenge budget the run fits in, which the limits group then spends.
    const url = await startReferenceServer({
      PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}`,
      PEAQOS_MCR_CACHE_TTL_MS: '0',
      PEAQOS_MCR_REQUESTS_PER_MINUTE: '0',
      PEAQOS_MACHINE_IDENTITY_CHALLENGE_TTL_MS: '2000',
      PEAQOS_AGENT_PAIRING_CHALLENGE_TTL_MS: '2000',
      PEAQOS_AGENT_API_KEYS: 'conformance-agent-key',
      PEAQOS_RATE_LIMIT_CHALLENGES_PER_MINUTE: '100',
    });
    // The documented profile first: the reference run ends by spending this client's challenge budget.
    const documented = await runConformance({
      baseUrl: url,
      mcrPort,
      profile: 'documented',
      only: ['health', 'identity', 'pairings', 'market'],
    });
    expect(documented.results.filter((r) => r.status === 'fail')).toEqual([]);
    const rep = await runConformance({
      baseUrl: url,
      mcrPort,
      profile: 'reference',
      agentApiKey: 'conformance-agent-key',
      rateLimitBurst: 100,
    });
    const failures = rep.results.filter((r) => r.status === 'fail');
    expect(failures, JSON.stringify(failures, null, 2)).toEqual([]);
    expect(rep.summary.passed).toBeGreaterThan(25);
    expect(rep.results.find((r) => r.name.startsWith('an expired identity proof'))!.status).toBe('pass');
    for (const name of [
      'an agent-scoped key',
      'one MCR machine registers once',
      'search and orders agree',
      'hostile input',
      'past its challenge budget',
    ]) {
      expect(rep.results.find((r) => r.name.startsWith(name))?.status, name).toBe('pass');
    }
    // Every operation is exercised, and every error code is either provoked or listed with why it was not.
    expect(rep.coverage.operations.notExercised).toEqual([]);
    const unexplained = rep.coverage.errorCodes.notExercised.filter(
      (c) => !rep.coverage.notProvokable?.[c] && !rep.coverage.needsOption?.[c],
    );
    expect(unexplained).toEqual([]);
    expect(rep.coverage.errorCodes.exercised).toEqual(
      expect.arrayContaining([
        'AGENT_PAIRING_PROOF_EXPIRED',
        'MACHINE_IDENTITY_PROOF_EXPIRED',
        'AUTH_FORBIDDEN',
        'RATE_LIMITED',
      ]),
    );
    expect(rep.durationMs).toBeLessThan(60_000);
    expect(junit(rep)).toContain('<testsuites name="peaqos-conformance"');
  }, 120_000);

  it('checks API-key auth when the deployment requires it, and skips identity checks with --no-identity', async () => {
    const url = await startReferenceServer({
      PEAQOS_REQUIRE_API_AUTH: 'true',
      PEAQOS_API_KEY: 'conformance-key',
      PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled',
    });
    const rep = await runConformance({
      baseUrl: url,
      apiKey: 'conformance-key',
      identity: false,
      only: ['health', 'auth', 'identity'],
    });
    expect(rep.results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(rep.results.find((r) => r.name.startsWith('API key'))!.status).toBe('pass');
    const skipped = rep.results.filter((r) => r.group === 'identity');
    expect(skipped.every((r) => r.status === 'skip' && /--no-identity/.test(r.reason!))).toBe(true);
  }, 60_000);
});

describe('conformance kit catches faults', () => {
  let srv: TestServer | undefined;
  afterAll(async () => srv?.close());

  const cases: Array<[Fault, string[], RegExp]> = [
    ['wrong-success-status', ['pagination'], /status 201/],
    ['missing-required-field', ['pagination'], /name/],
    ['extra-envelope-wrapper', ['pagination'], /items|matches openapi/],
    ['null-next-cursor', ['pagination'], /never null|nextCursor/],
    ['echoed-auth-token', ['identity', 'runtime'], /authToken|matches openapi/],
    ['accepted-replayed-challenge', ['identity'], /MACHINE_IDENTITY_PROOF_INVALID/],
    ['wrong-error-code', ['errors', 'identity'], /NOT_FOUND/],
    ['500-on-bad-input', ['negative'], /no 500|VALIDATION_ERROR/],
    ['ignored-api-key', ['auth'], /AUTH_REQUIRED/],
    ['cached-gets', ['policies'], /PATCH persists.*keeps no state/],
    ['swallowed-deletes', ['policies', 'graph', 'runtime'], /NOT_FOUND/],
    ['dropped-list-item', ['pagination'], /every created item is on some page/],
  ];

  it.each(cases)(
    'reports %s',
    async (fault, only, expectation) => {
      const mcrPort = await freePort();
      srv = await startTestServer({ env: { PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}` } });
      const proxy = await startBrokenProxy(srv.url, fault);
      try {
        const rep = await runConformance({
          baseUrl: proxy.url,
          mcrPort,
          only,
          apiKey: fault === 'ignored-api-key' ? 'some-key' : undefined,
        });
        const failures = rep.results.filter((r) => r.status === 'fail');
        expect(failures.length, `${fault} was not reported`).toBeGreaterThan(0);
        const text = failures
          .map((f) => `${f.failure!.operationId} ${f.failure!.expectation} ${f.failure!.actual}`)
          .join('\n');
        expect(text).toMatch(expectation);
        for (const f of failures) {
          expect(f.failure!.request).toMatch(/^(GET|POST|PUT|PATCH|DELETE) \//);
        }
      } finally {
        await proxy.close();
        await srv.close();
        srv = undefined;
      }
    },
    60_000,
  );
});

describe('peaqos-conformance CLI', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, ['bin/peaqos-conformance.js', ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout!.on('data', (d) => (stdout += d));
      p.stderr!.on('data', (d) => (stderr += d));
      p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });

  it('prints progress, writes JUnit and exits 0 on a conforming server; exits 1 on a broken one', async () => {
    const mcrPort = await freePort();
    const srv = await startTestServer({ env: { PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}` } });
    try {
      const good = await cli([
        '--base-url',
        srv.url,
        '--mcr-port',
        String(mcrPort),
        '--only',
        'health,pagination',
        '--reporter',
        'junit',
      ]);
      expect(good.code, good.stderr).toBe(0);
      expect(good.stderr).toMatch(
        /mock MCR listening on http:\/\/127\.0\.0\.1:\d+ — the target must use PEAQOS_MCR_API_URL=/,
      );
      expect(good.stderr).toMatch(/PASS {2}GET \/health/);
      expect(good.stdout).toMatch(/<testsuites name="peaqos-conformance" tests="\d+" failures="0"/);
      const proxy = await startBrokenProxy(srv.url, 'null-next-cursor');
      try {
        const bad = await cli([
          '--base-url',
          proxy.url,
          '--mcr-port',
          String(mcrPort),
          '--only',
          'pagination',
          '--reporter',
          'json',
        ]);
        expect(bad.code).toBe(1);
        const report = JSON.parse(bad.stdout);
        expect(report.summary.failed).toBeGreaterThan(0);
        expect(report.coverage.operations.exercised).toContain('listPolicies');
      } finally {
        await proxy.close();
      }
      const usage = await cli(['--profile', 'strict']);
      expect(usage.code).toBe(64);
      expect(usage.stderr).toMatch(/--base-url is required|--profile must be/);
    } finally {
      await srv.close();
    }
  }, 60_000);

  it('--only runs a group alone, setting up its own state; a run that checks nothing exits non-zero; an unreachable target stops early with the cause', async () => {
    const mcrPort = await freePort();
    const srv = await startTestServer({ env: { PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}` } });
    try {
      const market = await cli([
        '--base-url',
        srv.url,
        '--mcr-port',
        String(mcrPort),
        '--only',
        'market',
        '--reporter',
        'json',
      ]);
      expect(market.code, market.stderr).toBe(0);
      const report = JSON.parse(market.stdout);
      // The market group alone: it registers the machine and pairs the agent it needs itself.
      expect(new Set(report.results.map((r: { group: string }) => r.group))).toEqual(new Set(['market']));
      expect(report.results.filter((r: { status: string }) => r.status === 'pass').length).toBe(report.results.length);
      expect(report.coverage.operations.exercised).toEqual(
        expect.arrayContaining(['createMachine', 'createAgentPairing', 'createMarketOrder']),
      );
    } finally {
      await srv.close();
    }
    const nothing = await cli(['--base-url', 'http://127.0.0.1:9', '--only', 'identity', '--no-identity']);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/No check ran: --no-identity/);
    const closed = await freePort();
    const started = Date.now();
    const gone = await cli(['--base-url', `http://127.0.0.1:${closed}`, '--no-identity', '--timeout-ms', '500']);
    expect(gone.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(gone.stdout).toMatch(/connection refused \(ECONNREFUSED\)/);
    expect(gone.stdout).toMatch(/not run: the target stopped answering/);
    expect(gone.stdout).not.toMatch(/HTTP 0 \(empty\)/);
  }, 120_000);
});
