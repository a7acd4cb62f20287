// The mock in a real browser: a page starts the MSW worker and renders GET /api/v1/machines, loaded in headless
// Chromium (Debian's package; .ci/run installs it when missing), driven by playwright-core.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'peaqos-browser-'));
let server: Server | undefined;
afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!CHROMIUM && !process.env.CI)('mock in headless Chromium', () => {
  it('renders the machines the worker serves', async () => {
    expect(CHROMIUM, 'Chromium is required in CI (.ci/run installs it)').toBeTruthy();
    await build({
      entryPoints: ['test/browser/app.ts'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outfile: join(dir, 'app.js'),
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    copyFileSync('test/browser/index.html', join(dir, 'index.html'));
    copyFileSync('node_modules/msw/lib/mockServiceWorker.js', join(dir, 'mockServiceWorker.js'));
    copyFileSync('openapi.yaml', join(dir, 'openapi.yaml'));
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.yaml': 'text/yaml' };
    server = createServer((req, res) => {
      const file = join(dir, req.url === '/' ? 'index.html' : req.url!.split('?')[0]!.slice(1));
      if (!existsSync(file)) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM!,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    let dom: string;
    try {
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('status')?.textContent !== 'loading', undefined, {
        timeout: 30_000,
      });
      dom = await page.content();
    } finally {
      await browser.close();
    }
    expect(dom).toContain('rendered 4 machines from HTTP 200');
    expect(dom).toContain('Warehouse rover 1 (active)');
    expect(dom).toContain('Charging robot 3 (draft)');
  }, 90_000);
});
