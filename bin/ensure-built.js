// In a checkout, the bins run the compiled code in dist/: build it first when a source is newer than the last
// build (an installed package ships dist/ and has no sources, so nothing happens there).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = [
  'src',
  'conformance',
  'mocks',
  'generated',
  'catalog',
  'openapi.yaml',
  'tsconfig.json',
  'tsconfig.build.json',
];

function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((m, n) => Math.max(m, newest(join(path, n))), s.mtimeMs);
}

export function ensureBuilt() {
  if (!existsSync(join(root, 'src')) || !existsSync(join(root, 'scripts', 'build.mjs'))) return;
  const stamp = join(root, 'dist', '.build-stamp');
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (built >= Math.max(...SOURCES.map((s) => newest(join(root, s))))) return;
  console.error('dist/ is older than the sources: building (npm run build)');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
