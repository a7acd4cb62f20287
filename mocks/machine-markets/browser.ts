// Browser entry point: setupWorker with the whole API mocked. Copy msw's worker script into your public folder
// first (`npx msw init public/`), then: const { worker, api } = await setupMachineMarketsWorker({ spec }); await worker.start();
import { setupWorker } from 'msw/browser';
import { createMockApi, type MockApiOptions } from './mock.ts';

export async function setupMachineMarketsWorker(opts: MockApiOptions) {
  const api = await createMockApi(opts);
  return { api, worker: setupWorker(...api.handlers) };
}

export { createMockApi };
