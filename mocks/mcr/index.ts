// The mock MCR: fixtures, a mutable registry and MSW handlers. In-process with msw/node's setupServer, or over
// HTTP with startMockMcr() / `npm run mock:mcr -- --port N`.
export * from './fixtures.ts';
export * from './registry.ts';
export { createMcrHandlers } from './handlers.ts';
export { startMockMcr, type MockMcrServer } from './server.ts';
