// The README's examples run verbatim: each is cut out of README.md and written next to the package (so
// `peaqos-machine-markets/...` resolves to this package's own exports, as for an installed one). The vitest
// example for frontend teams runs under vitest in a child process; the express example runs with node and answers.
import { spawn, spawnSync } from 'node:child_process';
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
  const r = spawnSync(
    process.execPath,
    [
      join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--root',
      dir,
      '--config',
      join(dir, 'vitest.config.mjs'),
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/1 passed/);
}, 150_000);

it("runs the README's express example as written: host route, mounted API, docs", async () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.split('## Embedding in an express app')[1]!;
  const code = /```js\n([\s\S]*?)```/.exec(section)![1]!;
  expect(code.trim().split('\n').length).toBeLessThanOrEqual(12);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'express-example.mjs'), code);
  const proc = spawn(process.execPath, [join(dir, 'express-example.mjs')], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 20_000;
    while (!/listening on (\d+)/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const port = /listening on (\d+)/.exec(out)?.[1];
    expect(port, out).toBeTruthy();
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/status`)).json()).toEqual({ host: 'my app' });
    expect(await (await fetch(`${base}/machine-markets/health`)).json()).toEqual({ ok: true });
    expect((await fetch(`${base}/machine-markets/docs`)).status).toBe(200);
    expect((await fetch(`${base}/machine-markets/api/v1/skills`)).status).toBe(200);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}, 60_000);
