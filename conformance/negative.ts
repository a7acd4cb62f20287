// Negative inputs generated from a request schema: a missing required field, a wrong type, an out-of-range
// number, an unknown enum value, an unexpected property. Deterministic for a seed.
import type { OpenApiDoc } from '../src/contract/spec.ts';

export interface NegativeCase {
  label: string;
  body: unknown;
}

type Schema = Record<string, unknown>;

function resolve(doc: OpenApiDoc, s: Schema | undefined): Schema {
  let cur = s ?? {};
  for (let i = 0; i < 10 && typeof cur.$ref === 'string'; i++) {
    cur = (cur.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce<Schema>((n, k) => n?.[k] as Schema, doc as Schema);
  }
  return cur;
}

function wrongTypeValue(s: Schema): unknown {
  const t = Array.isArray(s.type) ? s.type.filter((x) => x !== 'null')[0] : s.type;
  switch (t) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not-a-number';
    case 'boolean':
      return 'yes';
    case 'array':
      return { not: 'an array' };
    case 'object':
      return 'not-an-object';
    default:
      return undefined;
  }
}

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

export function negativeCases(
  doc: OpenApiDoc,
  schema: Schema | undefined,
  valid: Record<string, unknown>,
  seed: number,
  max = 12,
): NegativeCase[] {
  const s = resolve(doc, schema);
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const cases: NegativeCase[] = [];
  for (const req of (s.required as string[] | undefined) ?? []) {
    const { [req]: _drop, ...rest } = valid;
    void _drop;
    cases.push({ label: `missing required ${req}`, body: rest });
  }
  for (const [name, raw] of Object.entries(props)) {
    const p = resolve(doc, raw);
    const wrong = wrongTypeValue(p);
    if (wrong !== undefined) cases.push({ label: `${name} of the wrong type`, body: { ...valid, [name]: wrong } });
    if (typeof p.minimum === 'number')
      cases.push({ label: `${name} below its minimum`, body: { ...valid, [name]: (p.minimum as number) - 1 } });
    if (typeof p.maximum === 'number')
      cases.push({ label: `${name} above its maximum`, body: { ...valid, [name]: (p.maximum as number) + 1 } });
    if (Array.isArray(p.enum))
      cases.push({ label: `${name} outside its enum`, body: { ...valid, [name]: '__not_in_enum__' } });
    if (typeof p.pattern === 'string' && (p.type === 'string' || !p.type))
      cases.push({ label: `${name} not matching its pattern`, body: { ...valid, [name]: ' !bad value! ' } });
  }
  if (s.additionalProperties === false)
    cases.push({ label: 'an unexpected property', body: { ...valid, __unexpected__: true } });
  const r = rng(seed);
  const shuffled = cases
    .map((c) => [r(), c] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, c]) => c);
  // Keep every missing-required case, then fill up to `max` with the others.
  const required = shuffled.filter((c) => c.label.startsWith('missing'));
  const others = shuffled.filter((c) => !c.label.startsWith('missing'));
  return [...required, ...others].slice(0, Math.max(max, required.length));
}

export function requestSchema(doc: OpenApiDoc, path: string, method: string): Schema | undefined {
  return doc.paths?.[path]?.[method]?.requestBody?.content?.['application/json']?.schema;
}
