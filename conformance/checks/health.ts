import type { Kit } from '../kit.ts';
import type { CheckContext } from './context.ts';

export function registerHealth(kit: Kit, ctx: CheckContext): void {
  const { h } = ctx;
  kit.group('health', (check) => {
    check('GET /health answers { ok: true } without an API key', async () => {
      const r = await h.send('GET', '/health', { apiKey: null });
      kit.ok(r, 'getHealth', 200);
      kit.assert(r.body?.ok === true, r, 'getHealth', 'body { ok: true }');
    });
    check('GET /api/v1/readiness answers { status, checks[] }', async () => {
      kit.ok(await h.send('GET', '/api/v1/readiness'), 'getReadiness', [200, 503]);
    });
  });
}
