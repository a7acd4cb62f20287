// The kit against a target that keeps no state: Stoplight Prism's mock of openapi.yaml answers every operation with
// the contract's own examples, well-formed and schema-valid, and remembers nothing. Every check of state must fail
// against it, and say that a stateless target cannot pass; only health, auth and input-validation checks may pass.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConformance } from '../conformance/run.ts';
import type { Report } from '../conformance/report.ts';
import { freePort } from './helpers/ports.ts';

const require = createRequire(import.meta.url);
const prismBin = join(dirname(require.resolve('@stoplight/prism-cli/package.json')), 'dist', 'index.js');

let prism: ChildProcess | undefined;
let url = '';

beforeAll(async () => {
  const port = await freePort();
  prism = spawn(process.execPath, [prismBin, 'mock', '--host', '127.0.0.1', '--port', String(port), 'openapi.yaml'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  prism.stdout!.on('data', (d) => (log += d));
  prism.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 60_000;
  while (!/Prism is listening/.test(log)) {
    if (Date.now() > deadline || prism.exitCode !== null) throw new Error(`Prism did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  url = `http://127.0.0.1:${port}`;
}, 90_000);

afterAll(() => {
  prism?.kill('SIGTERM');
});

// Checks whose subject is the answer to one request (liveness, API keys, refusing bad input): a stateless target
// may pass them, since it answers from the contract.
const STATELESS_MAY_PASS = (group: string, name: string) =>
  ['health', 'auth', 'errors', 'negative'].includes(group) || name.startsWith('hostile input');

describe('conformance kit against a stateless fake (Prism mock of openapi.yaml)', () => {
  let report: Report;

  it('fails every check of state, and only checks of single answers can pass', async () => {
    const mcrPort = await freePort();
    // An agent key and a rate-limit burst so that no check is skipped for want of an option.
    report = await runConformance({
      baseUrl: url,
      mcrPort,
      profile: 'reference',
      agentApiKey: 'fake-agent-key',
      rateLimitBurst: 3,
      timeoutMs: 5_000,
    });
    const stateful = report.results.filter((r) => !STATELESS_MAY_PASS(r.group, r.name));
    expect(stateful.length).toBeGreaterThan(30);
    const notFailed = stateful
      .filter((r) => r.status !== 'fail')
      .map((r) => `${r.status} ${r.group}: ${r.name} ${r.reason ?? ''}`);
    expect(notFailed).toEqual([]);
    // It did answer: the health group passes, so the failures are about state, not reachability.
    expect(report.results.filter((r) => r.group === 'health').every((r) => r.status === 'pass')).toBe(true);
  }, 120_000);

  it('says that a stateless target cannot pass, where state is what failed', () => {
    const text = (name: string) => {
      const r = report.results.find((x) => x.name.startsWith(name));
      return `${r?.failure?.expectation ?? ''} ${r?.failure?.actual ?? ''}`;
    };
    for (const name of [
      'policies: what is created reads back exactly',
      'limit bounds, opaque cursors',
      'GET one pairing never shows the token',
      'graph edges: DELETE answers 204',
    ]) {
      expect(text(name), name).toMatch(/a target that keeps no state cannot pass this/);
    }
    const saying = report.results.filter((r) => r.status === 'fail' && /keeps no state/.test(r.failure!.expectation));
    expect(saying.length).toBeGreaterThan(25);
  });
});
