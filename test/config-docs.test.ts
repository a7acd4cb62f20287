// The configuration is described in three places: src/config.ts (what is read), .env.example (every variable with
// its default) and the README's Configuration table. They stay equal; the defaults in .env.example are the real
// ones; and the container files run exactly the bins the tests exercise.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

const read = (f: string) => readFileSync(f, 'utf8');
const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

const fromCode = sorted(
  [...read('src/config.ts').matchAll(/(?:raw|int|bool|oneOf|httpUrl)\(env, '([A-Z_]+)'/g)].map((m) => m[1]!),
);
const envExample = [...read('.env.example').matchAll(/^# ([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => ({
  name: m[1]!,
  value: m[2]!,
}));
const configSection = read('README.md').split('## Configuration')[1]!.split('\n## ')[0]!;
const fromReadme = sorted(
  configSection
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .flatMap((l) => [...l.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)),
);

describe('configuration docs', () => {
  it('config.ts reads a known set of variables', () => {
    expect(fromCode.length).toBeGreaterThan(40);
    expect(fromCode).toContain('PEAQOS_DATABASE_URL');
  });

  it('.env.example lists exactly the variables config.ts reads', () => {
    expect(sorted(envExample.map((e) => e.name))).toEqual(fromCode);
  });

  it("the README's Configuration table lists exactly the variables config.ts reads", () => {
    expect(fromReadme).toEqual(fromCode);
  });

  it('every default written in .env.example is the default config.ts applies', () => {
    const defaults = loadConfig({}, { generateSecret: () => 'x'.repeat(48) });
    for (const { name, value } of envExample.filter((e) => e.value !== '')) {
      const withIt = loadConfig({ [name]: value }, { generateSecret: () => 'x'.repeat(48) });
      expect(withIt, `${name}=${value}`).toEqual(defaults);
    }
  });

  it('the Dockerfile and compose.yaml run the bins the tests run', () => {
    const docker = read('Dockerfile');
    expect(docker).toMatch(/CMD \["node", .*"bin\/peaqos-orchestrator\.js", "serve"\]/);
    expect(docker).toMatch(/HEALTHCHECK .*\/health/);
    expect(docker).toMatch(/^USER node$/m);
    const serverOptions = (
      JSON.parse(read('package.json')) as { config: { serverNodeOptions: string } }
    ).config.serverNodeOptions.split(' ');
    for (const o of serverOptions) expect(docker).toContain(`"${o}"`);
    const compose = read('compose.yaml');
    expect(compose).toMatch(/bin\/peaqos-mock-mcr\.js", "--port", "8000"/);
    expect(compose).toMatch(/image: postgres/);
    expect(compose).toMatch(/PEAQOS_DATABASE_URL: postgres:\/\//);
  });
});
