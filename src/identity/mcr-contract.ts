// Every MCR answer is checked against the MCR contract (mocks/mcr/openapi.yaml) before any field of it is used:
// an answer of the wrong shape means MCR (or something in between) is not what this server was built against,
// and identity checks fail closed (PEAQOS_IDENTITY_UNAVAILABLE) instead of guessing.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { loadSpec, MCR_SPEC_PATH } from '../contract/spec.ts';

let compiled: { profile: ValidateFunction; card: ValidateFunction } | undefined;

function validators() {
  if (!compiled) {
    const ajv = new Ajv2020({ strict: false, allErrors: false });
    ajv.addSchema(loadSpec(MCR_SPEC_PATH), 'mcr.json');
    compiled = {
      profile: ajv.compile({ $ref: 'mcr.json#/components/schemas/MachineProfile' }),
      card: ajv.compile({ $ref: 'mcr.json#/components/schemas/MachineCard' }),
    };
  }
  return compiled;
}

/** Null when `body` is a MachineProfile (GET /machine/{did}); otherwise what is wrong with it. */
export function machineProfileProblem(body: unknown): string | null {
  const v = validators().profile;
  return v(body) ? null : `${v.errors?.[0]?.instancePath || '/'} ${v.errors?.[0]?.message ?? 'invalid'}`;
}

/** Null when `body` is a MachineCard (GET /machines/{id}); otherwise what is wrong with it. */
export function machineCardProblem(body: unknown): string | null {
  const v = validators().card;
  return v(body) ? null : `${v.errors?.[0]?.instancePath || '/'} ${v.errors?.[0]?.message ?? 'invalid'}`;
}
