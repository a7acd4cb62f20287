// The README's Node example for frontend teams runs verbatim: it is cut out of README.md, written next to the
// package (so `peaqos-machine-markets/mocks` resolves to this package's own exports, as for an installed one)
// and run by vitest in a child process.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const dir = join(process.cwd(), '.readme-example');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("runs the README's vitest example as written", () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.split('**Node tests (vitest):**')[1]!;
  const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
  expect(code).toMatch(/from 'peaqos-machine-markets\/mocks'/);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'example.test.ts'), code);
  writeFileSync(join(dir, 'vitest.config.mjs'), "export default { test: { include: ['example.test.ts'] } };\n");
  const r = spawnSync(process.execPath, [join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir, '--config', join(dir, 'vitest.config.mjs')], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/1 passed/);
}, 150_000);
