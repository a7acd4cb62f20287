import type { Kit } from '../kit.ts';
import type { CheckContext } from './context.ts';

export function registerAuth(kit: Kit, ctx: CheckContext): void {
  const { h } = ctx;
  kit.group('auth', (check) => {
    check('API key: missing key is AUTH_REQUIRED, a wrong key AUTH_INVALID, /health stays open', async () => {
      if (!kit.opts.apiKeyGiven) kit.skip('no --api-key given: the target is treated as public');
      kit.error(await h.send('GET', '/api/v1/policies', { apiKey: null }), 'listPolicies', 'AUTH_REQUIRED');
      kit.error(
        await h.send('GET', '/api/v1/policies', { apiKey: 'conformance-wrong-key' }),
        'listPolicies',
        'AUTH_INVALID',
      );
      kit.error(
        await h.send('POST', '/api/v1/policies', { apiKey: 'conformance-wrong-key', body: { name: 'x' } }),
        'createPolicy',
        'AUTH_INVALID',
      );
      kit.ok(await h.send('GET', '/health', { apiKey: null }), 'getHealth', 200);
    });
    check('public deployment: /api/v1 answers without an API key', async () => {
      if (kit.opts.apiKeyGiven) kit.skip('--api-key given: the target requires keys');
      kit.ok(await h.send('GET', '/api/v1/policies', { apiKey: null }), 'listPolicies', 200);
    });
  });
}
