// Fails when regenerating the client from openapi.yaml would change the committed generated/ folder.
import { createClient } from '@hey-api/openapi-ts';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import config from '../openapi-ts.config.ts';
import { OPERATION_TYPES_FILE, operationTypesSource } from './generate-operation-types.ts';

function listFiles(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(root, full) : [relative(root, full)];
  });
}

const committed = 'generated';
const fresh = mkdtempSync(join(tmpdir(), 'peaqos-generated-'));
try {
  const base = (await config) as unknown as { input: string; plugins: unknown; output: object };
  await createClient({
    ...base,
    output: { ...(base as { output: object }).output, path: fresh },
    logs: { level: 'silent' },
  } as Parameters<typeof createClient>[0]);
  const a = new Set(listFiles(committed));
  const b = new Set(listFiles(fresh));
  const problems: string[] = [];
  for (const f of b) {
    if (!a.has(f)) problems.push(`missing from generated/: ${f}`);
    else if (readFileSync(join(committed, f), 'utf8') !== readFileSync(join(fresh, f), 'utf8'))
      problems.push(`out of date: generated/${f}`);
  }
  for (const f of a) if (!b.has(f)) problems.push(`stale file in generated/: ${f}`);
  // The per-operation handler types are derived from generated/ and the spec.
  if (readFileSync(OPERATION_TYPES_FILE, 'utf8') !== operationTypesSource())
    problems.push('out of date: src/contract/operation-types.gen.ts');
  if (problems.length > 0) {
    console.error(
      `generated/ has drifted from openapi.yaml (run \`npm run generate\` and commit):\n  ${problems.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(`generated/ is in sync with openapi.yaml (${b.size} files).`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
