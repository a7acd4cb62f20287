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
  const child = spawn('npm', ['start'], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', PEAQOS_DATABASE_URL: ':memory:', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
    const url = await startReferenceServer({ PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}`, PEAQOS_MCR_CACHE_TTL_MS: '0', PEAQOS_MACHINE_IDENTITY_CHALLENGE_TTL_MS: '2000', PEAQOS_AGENT_PAIRING_CHALLENGE_TTL_MS: '2000' });
    const rep = await runConformance({ baseUrl: url, mcrPort, profile: 'reference' });
    const failures = rep.results.filter((r) => r.status === 'fail');
    expect(failures, JSON.stringify(failures, null, 2)).toEqual([]);
    expect(rep.summary.passed).toBeGreaterThan(25);
    expect(rep.results.find((r) => r.name.startsWith('an expired identity proof'))!.status).toBe('pass');
    expect(rep.coverage.operations.exercised.length).toBeGreaterThan(45);
    expect(junit(rep)).toContain('<testsuites name="peaqos-conformance"');
    const documented = await runConformance({ baseUrl: url, mcrPort, profile: 'documented', only: ['health', 'identity', 'pairings', 'market'] });
    expect(documented.results.filter((r) => r.status === 'fail')).toEqual([]);
  }, 120_000);

  it('checks API-key auth when the deployment requires it, and skips identity checks with --no-identity', async () => {
    const url = await startReferenceServer({ PEAQOS_REQUIRE_API_AUTH: 'true', PEAQOS_API_KEY: 'conformance-key', PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'disabled' });
    const rep = await runConformance({ baseUrl: url, apiKey: 'conformance-key', identity: false, only: ['health', 'auth', 'identity'] });
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
  ];

  it.each(cases)('reports %s', async (fault, only, expectation) => {
    const mcrPort = await freePort();
    srv = await startTestServer({ env: { PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}` } });
    const proxy = await startBrokenProxy(srv.url, fault);
    try {
      const rep = await runConformance({ baseUrl: proxy.url, mcrPort, only, apiKey: fault === 'ignored-api-key' ? 'some-key' : undefined });
      const failures = rep.results.filter((r) => r.status === 'fail');
      expect(failures.length, `${fault} was not reported`).toBeGreaterThan(0);
      const text = failures.map((f) => `${f.failure!.operationId} ${f.failure!.expectation} ${f.failure!.actual}`).join('\n');
      expect(text).toMatch(expectation);
      for (const f of failures) {
        expect(f.failure!.request).toMatch(/^(GET|POST|PUT|PATCH|DELETE) \//);
      }
    } finally {
      await proxy.close();
      await srv.close();
      srv = undefined;
    }
  }, 60_000);
});
