// The two profiles. `reference` checks everything this project decided. `documented` checks only what the
// public docs promise: designed operations are skipped, a designed success status accepts any 2xx, and
// properties marked x-peaqos-source: designed are not required.
import { loadSpec, type OpenApiDoc } from '../src/contract/spec.ts';
import { ContractValidator } from '../src/contract/validator.ts';

export type Profile = 'documented' | 'reference';

function stripDesignedRequired(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(stripDesignedRequired);
  if (!node || typeof node !== 'object') return;
  const n = node as Record<string, unknown>;
  if (n.properties && typeof n.properties === 'object' && Array.isArray(n.required)) {
    const props = n.properties as Record<string, Record<string, unknown>>;
    n.required = (n.required as string[]).filter((k) => props[k]?.['x-peaqos-source'] !== 'designed');
  }
  for (const v of Object.values(n)) stripDesignedRequired(v);
}

export function validatorFor(profile: Profile): ContractValidator {
  const doc = structuredClone(loadSpec()) as OpenApiDoc;
  if (profile === 'documented') stripDesignedRequired(doc.components);
  return new ContractValidator(doc, `peaqos-${profile}.json`);
}
