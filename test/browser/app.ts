// A small page that starts the mock's service worker and renders GET /api/v1/machines.
import { parse } from 'yaml';
import { setupMachineMarketsWorker } from '../../mocks/machine-markets/browser.ts';

async function main() {
  const status = document.getElementById('status')!;
  try {
    const spec = parse(await (await fetch('/openapi.yaml')).text(), { maxAliasCount: -1 });
    const { worker } = await setupMachineMarketsWorker({ spec });
    await worker.start({ serviceWorker: { url: '/mockServiceWorker.js' }, onUnhandledRequest: 'bypass', quiet: true });
    const res = await fetch('/api/v1/machines');
    const body = (await res.json()) as { items: Array<{ displayName: string; status: string }> };
    const list = document.getElementById('machines')!;
    for (const m of body.items) {
      const li = document.createElement('li');
      li.textContent = `${m.displayName} (${m.status})`;
      list.appendChild(li);
    }
    status.textContent = `rendered ${body.items.length} machines from HTTP ${res.status}`;
  } catch (err) {
    status.textContent = `error: ${(err as Error).message}`;
  }
}
void main();
