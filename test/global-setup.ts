// Before any test file: build dist/ if a source is newer, once, so that test files starting the bins in parallel
// never race to rebuild it.
// @ts-expect-error: a plain JavaScript module without declarations
import { ensureBuilt } from '../bin/ensure-built.js';

export default function setup(): void {
  (ensureBuilt as () => void)();
}
