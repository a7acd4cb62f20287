// Schema keywords of this contract beyond JSON Schema, added to every Ajv that validates against openapi.yaml
// (the server's, the mock's, the response validator's), so the three agree.
//
// x-peaqos-decimals: N: a number with at most N decimal places. Amounts are stored as integer micro-units, so an
// amount with more than 6 decimals would be stored as something other than what was sent. JSON Schema's multipleOf
// compares in binary floating point (0.3 is not a multiple of 0.000001 there), so the count is taken from the
// number's shortest decimal form instead.
import type { Ajv } from 'ajv';

export function decimalPlaces(n: number): number {
  if (!Number.isFinite(n)) return Infinity;
  const s = String(Math.abs(n));
  const e = s.indexOf('e');
  const mantissa = e === -1 ? s : s.slice(0, e);
  const exponent = e === -1 ? 0 : Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const fraction = dot === -1 ? 0 : mantissa.length - dot - 1;
  return Math.max(0, fraction - exponent);
}

export function addContractKeywords<T extends Pick<Ajv, 'addKeyword' | 'getKeyword'>>(ajv: T): T {
  if (!ajv.getKeyword('x-peaqos-decimals')) {
    ajv.addKeyword({
      keyword: 'x-peaqos-decimals',
      type: 'number',
      schemaType: 'number',
      errors: false,
      validate: (max: number, data: number) => decimalPlaces(data) <= max,
    });
  }
  return ajv;
}
