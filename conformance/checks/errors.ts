import type { Kit } from '../kit.ts';
import type { CheckContext } from './context.ts';

export function registerErrors(kit: Kit, ctx: CheckContext): void {
  const { h } = ctx;
  kit.group('errors', (check) => {
    check(
      'an unknown route is 404 NOT_FOUND in the envelope',
      async () => {
        kit.error(await h.send('GET', '/api/v1/no-such-route'), null, 'NOT_FOUND');
      },
      { designed: true },
    );
    check(
      'a known path with the wrong method is 405',
      async () => {
        const r = await h.send('DELETE', '/api/v1/policies');
        kit.assert(r.status === 405, r, null, 'HTTP 405');
        kit.error(r, null, 'METHOD_NOT_ALLOWED');
      },
      { designed: true },
    );
    check('malformed JSON is 400 VALIDATION_ERROR', async () => {
      kit.error(await h.send('POST', '/api/v1/policies', { raw: '{"name": ' }), 'createPolicy', 'VALIDATION_ERROR');
    });
    check(
      'a body over 1 MiB is 413 and not a 500',
      async () => {
        const r = await h.send('POST', '/api/v1/policies', { raw: JSON.stringify({ name: 'x'.repeat(1_100_000) }) });
        kit.error(r, 'createPolicy', 'PAYLOAD_TOO_LARGE');
      },
      { designed: true },
    );
  });
}
