// The mock MCR in-process (msw/node) for a test file; requests to anything but http://mcr.test pass through.
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createMcrHandlers } from '../../mocks/mcr/handlers.ts';
import { McrRegistry } from '../../mocks/mcr/registry.ts';
import { MCR_TEST_URL } from './server.ts';

export function useMockMcr(): McrRegistry {
  const registry = new McrRegistry();
  const server = setupServer(...createMcrHandlers(registry, MCR_TEST_URL));
  beforeAll(() => server.listen({ onUnhandledRequest: 'bypass' }));
  afterEach(() => registry.reset());
  afterAll(() => server.close());
  return registry;
}
