// Loads openapi.yaml once per process. Everything that needs the contract (router, validators, conformance kit,
// mocks) reads it from here, so there is exactly one parsed copy.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { packageFile } from '../paths.ts';

export const SPEC_PATH = packageFile('openapi.yaml');
export const MCR_SPEC_PATH = packageFile('mocks', 'mcr', 'openapi.yaml');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed YAML document of any shape; readers narrow what they use
export type OpenApiDoc = Record<string, any>;

const cache = new Map<string, OpenApiDoc>();

export function loadSpec(path: string = SPEC_PATH): OpenApiDoc {
  let doc = cache.get(path);
  if (!doc) {
    doc = parse(readFileSync(path, 'utf8'), { maxAliasCount: -1 }) as OpenApiDoc;
    cache.set(path, doc);
  }
  return doc;
}

export interface OperationInfo {
  operationId: string;
  method: string;
  path: string;
  source: 'documented' | 'designed';
  errors: string[];
  successStatuses: string[];
  operation: OpenApiDoc;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function listOperations(doc: OpenApiDoc = loadSpec()): OperationInfo[] {
  const out: OperationInfo[] = [];
  for (const [path, item] of Object.entries<OpenApiDoc>(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      out.push({
        operationId: op.operationId,
        method,
        path,
        source: op['x-peaqos-source'] ?? 'documented',
        errors: op['x-peaqos-errors'] ?? [],
        successStatuses: Object.keys(op.responses ?? {}).filter((s) => /^2\d\d$/.test(s)),
        operation: op,
      });
    }
  }
  return out;
}
