// The three roles of the public API, read from a verified token's claims. Deny by default: role names the
// API does not know are ignored, and a token that carries none of the three grants nothing.

/** Weakest first: each role may do everything the roles before it may (see `roleAllows`). */
export const ROLES = ['read_only', 'analyst', 'administrator'] as const;

export type Role = (typeof ROLES)[number];

const RANK: ReadonlyMap<string, number> = new Map(ROLES.map((role, index) => [role, index]));

/** Where a token's issuer lists role names; Keycloak writes both shapes. */
export interface RoleClaimSources {
  /** read `realm_access.roles` (Keycloak realm roles) */
  realmRoles: boolean;
  /** read `resource_access[clientId].roles` (Keycloak client roles) when set */
  clientId: string | undefined;
}

function stringsAt(value: unknown): readonly string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is string => typeof item === 'string');
}

function member(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

/** The known roles a claims set carries, each once, weakest first; unknown names are dropped. */
export function extractRoles(claims: Readonly<Record<string, unknown>>, sources: RoleClaimSources): Role[] {
  const found = new Set<string>();
  if (sources.realmRoles) {
    for (const name of stringsAt(member(claims['realm_access'], 'roles'))) found.add(name);
  }
  if (sources.clientId !== undefined) {
    const client = member(claims['resource_access'], sources.clientId);
    for (const name of stringsAt(member(client, 'roles'))) found.add(name);
  }
  return ROLES.filter((role) => found.has(role));
}

/** Whether any of `held` is `required` or a stronger role (administrator ⊇ analyst ⊇ read_only). */
export function roleAllows(held: readonly Role[], required: Role): boolean {
  const needed = RANK.get(required) ?? Number.POSITIVE_INFINITY;
  return held.some((role) => (RANK.get(role) ?? -1) >= needed);
}
