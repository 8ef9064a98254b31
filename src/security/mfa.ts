// Multi-factor proof from a verified token: `amr` (RFC 8176 method references) holding a second factor, or
// `acr` at or above a configured level. Pure: the token verifier calls it after the signature and time checks.

export { SECOND_FACTOR_AMR } from '../config/auth-schemas.js';

export interface MfaPolicy {
  /** any of these in `amr` proves a second factor */
  amr: readonly string[];
  /** `acr` at or above this level proves it too; absent = `acr` is not consulted */
  minimumAcr: string | undefined;
  /** acr values weakest first, to rank `acr` against `minimumAcr`; absent = integers compare as numbers, else equality */
  acrOrder: readonly string[] | undefined;
}

/** Why a token fails the policy, naming the claim; undefined when it passes. */
export interface MfaFailure {
  field: 'amr' | 'acr';
  value: unknown;
}

const INTEGER = /^\d{1,9}$/;

function acrSatisfies(acr: string, policy: MfaPolicy): boolean {
  const minimum = policy.minimumAcr;
  if (minimum === undefined) return false;
  if (policy.acrOrder !== undefined) {
    const rank = policy.acrOrder.indexOf(acr);
    return rank >= 0 && rank >= policy.acrOrder.indexOf(minimum);
  }
  if (INTEGER.test(acr) && INTEGER.test(minimum)) return Number(acr) >= Number(minimum);
  return acr === minimum;
}

/** Checks the second-factor proof; returns what was missing, or undefined when the token proves MFA. */
export function checkMfa(
  claims: Readonly<Record<string, unknown>>,
  policy: MfaPolicy,
): MfaFailure | undefined {
  const amr = claims['amr'];
  if (Array.isArray(amr) && amr.some((method) => typeof method === 'string' && policy.amr.includes(method))) {
    return undefined;
  }
  const acr = claims['acr'];
  if (typeof acr === 'string' && acrSatisfies(acr, policy)) return undefined;
  // name the claim the operator most likely expected: amr unless only acr is configured to count
  if (policy.minimumAcr !== undefined && !Array.isArray(amr)) return { field: 'acr', value: acr };
  return { field: 'amr', value: amr };
}
