// npm run build: compiles src/, conformance/, mocks/ and generated/ into dist/ (JavaScript, declarations, source
// maps) with the TypeScript compiler, then points the declarations' relative imports at .js like the code's.
// Runs from `prepare` (npm ci / npm install in a checkout) and `prepack` (npm pack / publish).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(dist, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

const walk = (dir) =>
  readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
for (const file of walk(dist).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+?)\.ts(['"])/g, '$1$2.js$3');
  if (fixed !== text) writeFileSync(file, fixed);
}
// The API reference page's renderer ships with the package, so /docs works without internet access.
const require = createRequire(import.meta.url);
mkdirSync(join(dist, 'docs'), { recursive: true });
for (const f of ['redoc.standalone.js', 'redoc.standalone.js.LICENSE.txt'])
  copyFileSync(require.resolve(`redoc/bundles/${f}`), join(dist, 'docs', f));
writeFileSync(join(dist, '.build-stamp'), `${new Date().toISOString()}\n`);
