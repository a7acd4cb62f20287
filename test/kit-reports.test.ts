// The conformance kit's reports to look at and to compare: a self-contained HTML report rendered in headless
// Chromium (coverage matrix and a failure visible), and --baseline / --fail-on regression over two saved runs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConformance } from '../conformance/run.ts';
import { compareReports, htmlReport, prettyComparison, type Report } from '../conformance/report.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { startBrokenProxy } from './helpers/broken-proxy.ts';
import { freePort } from './helpers/ports.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'peaqos-kit-reports-'));
const ONLY = ['health', 'errors', 'pagination'];
let srv: TestServer;
let proxy: { url: string; close(): Promise<void> };
let mcrPort: number;
let passing: Report;
let broken: Report;

beforeAll(async () => {
  mcrPort = await freePort();
  srv = await startTestServer({ env: { PEAQOS_MCR_API_URL: `http://127.0.0.1:${mcrPort}` } });
  proxy = await startBrokenProxy(srv.url, 'wrong-error-code');
  passing = await runConformance({ baseUrl: srv.url, mcrPort, only: ONLY });
  broken = await runConformance({ baseUrl: proxy.url, mcrPort, only: ONLY });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('comparing runs', () => {
  it('says what newly fails, what got fixed and what still fails', () => {
    expect(passing.summary.failed).toBe(0);
    expect(broken.summary.failed).toBeGreaterThan(0);
    const regressed = compareReports(passing, broken);
    expect(regressed.newlyFailing.length).toBe(broken.summary.failed);
    expect(regressed.fixed).toEqual([]);
    const recovered = compareReports(broken, passing);
    expect(recovered.fixed.length).toBe(broken.summary.failed);
    expect(recovered.newlyFailing).toEqual([]);
    const same = compareReports(broken, broken);
    expect(same.newlyFailing).toEqual([]);
    expect(same.stillFailing.length).toBe(broken.summary.failed);
    expect(prettyComparison(regressed)).toMatch(/Newly failing \(\d+\):\n {2}errors: /);
    // Coverage changes: a run of fewer groups lost operations.
    const fewer: Report = {
      ...passing,
      coverage: {
        ...passing.coverage,
        operations: { exercised: passing.coverage.operations.exercised.slice(1), notExercised: [] },
      },
    };
    expect(compareReports(passing, fewer).operations.lost).toEqual([passing.coverage.operations.exercised[0]]);
  });

  it('--fail-on regression exits 0 with old failures only, 1 with a new one', async () => {
    const brokenFile = join(dir, 'broken.json');
    const passingFile = join(dir, 'passing.json');
    writeFileSync(brokenFile, JSON.stringify(broken));
    writeFileSync(passingFile, JSON.stringify(passing));
    const cli = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        const p = spawn(
          process.execPath,
          [
            'bin/peaqos-conformance.js',
            '--base-url',
            proxy.url,
            '--mcr-port',
            String(mcrPort),
            '--only',
            ONLY.join(','),
            ...args,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        p.stdout!.on('data', (d) => (out += d));
        p.stderr!.on('data', (d) => (out += d));
        p.on('exit', (code) => resolve({ code: code ?? 1, out }));
      });
    const known = await cli(['--baseline', brokenFile, '--fail-on', 'regression']);
    expect(known.code, known.out).toBe(0);
    expect(known.out).toMatch(/Newly failing: none/);
    expect(known.out).toMatch(/Still failing \(\d+\)/);
    const regressed = await cli(['--baseline', passingFile, '--fail-on', 'regression']);
    expect(regressed.code).toBe(1);
    expect(regressed.out).toMatch(/Newly failing \(\d+\)/);
    const html = await cli(['--baseline', passingFile, '--reporter', 'html', '--out', join(dir, 'cli.html')]);
    expect(html.code).toBe(1); // --fail-on failure (the default): any failure
    expect(readFileSync(join(dir, 'cli.html'), 'utf8')).toMatch(/Compared with the baseline/);
  }, 120_000);
});

describe.skipIf(!CHROMIUM && !process.env.CI)('the HTML report', () => {
  it('renders in a browser with the summary, the coverage matrix and each failure, self-contained', async () => {
    expect(CHROMIUM, 'Chromium is required in CI (.ci/run installs it)').toBeTruthy();
    const file = join(dir, 'report.html');
    const page = htmlReport(broken, compareReports(passing, broken));
    expect(page).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/); // no scripts, nothing fetched from elsewhere
    writeFileSync(file, page);
    const browser = await chromium.launch({
      executablePath: CHROMIUM!,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    try {
      const tab = await browser.newPage();
      const requests: string[] = [];
      tab.on('request', (r) => requests.push(r.url()));
      await tab.goto(`file://${file}`);
      expect(await tab.isVisible('#matrix')).toBe(true);
      const rows = await tab.locator('#matrix tbody tr').count();
      expect(rows).toBe(broken.coverage.operations.exercised.length + broken.coverage.operations.notExercised.length);
      expect(await tab.locator('#matrix td.hit').count()).toBeGreaterThan(3);
      const failure = tab.locator('.failure').first();
      expect(await failure.isVisible()).toBe(true);
      expect(await failure.textContent()).toMatch(/NOT_FOUND/);
      expect(await tab.textContent('#summary')).toContain(`${broken.summary.failed} failed`);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      await tab.screenshot({ path: join(dir, 'report.png') });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
