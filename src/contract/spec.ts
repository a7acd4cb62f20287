// Loads openapi.yaml once per process. Everything that needs the contract (router, validators, conformance kit,
// mocks) reads it from here, so there is exactly one parsed copy.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { packageFile } from '../paths.ts';
import { operationsOf, type OperationInfo } from './operations.ts';
import { ContractValidator } from './validator.ts';

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

export type { OperationInfo } from './operations.ts';

/** The operations of openapi.yaml (this package's, unless another document is given). */
export function listOperations(doc: OpenApiDoc = loadSpec()): OperationInfo[] {
  return operationsOf(doc);
}

let shared: ContractValidator | undefined;
/** One validator of this package's openapi.yaml per process. */
export function contractValidator(): ContractValidator {
  shared ??= new ContractValidator(loadSpec());
  return shared;
}
