// A real browser (Debian's Chromium, headless) calling the server from another origin, with the preflight an API
// key header causes, and reading the /docs page the server renders from its contract.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe.skipIf(!CHROMIUM && !process.env.CI)('the server from a browser', () => {
  let page: Server;
  let pageOrigin: string;
  let api: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    expect(CHROMIUM, 'Chromium is required in CI (.ci/run installs it)').toBeTruthy();
    // The page's origin: a server of its own that only serves the page.
    // It POSTs with an API key (so the browser sends a preflight) to the API whose URL follows the '#'.
    const script = `
      (async () => {
        const out = document.getElementById('out');
        try {
          const r = await fetch(location.hash.slice(1) + '/api/v1/policies', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'browser-key', 'idempotency-key': 'b-1' }, body: JSON.stringify({ name: 'from a page' }) });
          const body = await r.json();
          out.textContent = 'created ' + r.status + ' ' + body.item.name + ' request ' + (r.headers.get('x-request-id') ? 'id visible' : 'id hidden');
        } catch (e) {
          out.textContent = 'blocked: ' + e.message;
        }
      })();`;
    page = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><p id="out">loading</p><script>${script}</script>`);
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    api = await startTestServer({
      env: { PEAQOS_REQUIRE_API_AUTH: 'true', PEAQOS_API_KEY: 'browser-key', PEAQOS_CORS_ORIGINS: pageOrigin },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM!, headless: true, args: ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    page?.close();
  });

  it('calls the API cross-origin with an API key: preflight allowed, response readable, x-request-id exposed', async () => {
    const tab = await browser.newPage();
    await tab.goto(`${pageOrigin}/#${api.url}`);
    await tab.waitForFunction(() => document.getElementById('out')?.textContent !== 'loading', undefined, {
      timeout: 20_000,
    });
    expect(await tab.textContent('#out')).toBe('created 201 from a page request id visible');
    expect(
      (await api.client.get('/api/v1/policies', { headers: { 'x-api-key': 'browser-key' } })).body.items,
    ).toHaveLength(1);
  }, 60_000);

  it('is blocked from an origin that is not listed', async () => {
    const other = await startTestServer({
      env: {
        PEAQOS_REQUIRE_API_AUTH: 'true',
        PEAQOS_API_KEY: 'browser-key',
        PEAQOS_CORS_ORIGINS: 'https://somewhere.else',
      },
    });
    try {
      const tab = await browser.newPage();
      await tab.goto(`${pageOrigin}/#${other.url}`);
      await tab.waitForFunction(() => document.getElementById('out')?.textContent !== 'loading', undefined, {
        timeout: 20_000,
      });
      expect(await tab.textContent('#out')).toMatch(/^blocked/);
    } finally {
      await other.close();
    }
  }, 60_000);

  it('renders /docs from the contract, offline, with the operations listed', async () => {
    const tab = await browser.newPage();
    // Requests that left for another host and completed (the page's CSP blocks Redoc's CDN logo before it goes).
    const external: string[] = [];
    tab.on('requestfinished', (r) => {
      if (!r.url().startsWith(api.url) && !/^(data|blob):/.test(r.url())) external.push(r.url());
    });
    await tab.goto(`${api.url}/docs`);
    await tab.waitForFunction(
      () => document.body.textContent?.includes('Lock a catalogue service (from a quote) into an order'),
      undefined,
      { timeout: 30_000 },
    );
    const text = (await tab.textContent('body')) ?? '';
    expect(text).toContain('List machines whose identity resolves');
    expect(text).toContain('peaqOS Machine Markets');
    expect(external, external.join('\n')).toEqual([]);
  }, 60_000);
});
