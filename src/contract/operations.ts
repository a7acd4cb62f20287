// The operations of a parsed openapi.yaml, in document order. Browser-safe (no file access): the mock and the
// validator use it with a document they were given.
import type { OpenApiDoc } from './spec.ts';

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

export function operationsOf(doc: OpenApiDoc): OperationInfo[] {
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
