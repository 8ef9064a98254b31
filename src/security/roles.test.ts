// Role extraction is deny by default: unknown names drop out, and only the configured client's roles count.
import { describe, expect, it } from 'vitest';
import { extractRoles, roleAllows } from './roles.js';

describe('extractRoles', () => {
  const both = { realmRoles: true, clientId: 'mlfp-api' };

  it('keeps the three known roles, weakest first, each once', () => {
    const claims = {
      realm_access: { roles: ['administrator', 'offline_access', 'read_only'] },
      resource_access: { 'mlfp-api': { roles: ['read_only', 'analyst'] } },
    };
    expect(extractRoles(claims, both)).toEqual(['read_only', 'analyst', 'administrator']);
  });

  it.each([
    ['no role claims', {}],
    ['roles that are not strings', { realm_access: { roles: [1, null, { name: 'administrator' }] } }],
    ['roles as a string instead of a list', { realm_access: { roles: 'administrator' } }],
    ['a role of another client', { resource_access: { other: { roles: ['administrator'] } } }],
    ['a near-miss name', { realm_access: { roles: ['Administrator', 'admin', 'read-only'] } }],
    [
      'an inherited property name',
      { resource_access: JSON.parse('{"__proto__": {"roles": ["administrator"]}}') },
    ],
  ])('grants nothing for %s', (_, claims) => {
    expect(extractRoles(claims as Record<string, unknown>, both)).toEqual([]);
  });

  it('reads only the sources it is given', () => {
    const claims = {
      realm_access: { roles: ['analyst'] },
      resource_access: { 'mlfp-api': { roles: ['administrator'] } },
    };
    expect(extractRoles(claims, { realmRoles: true, clientId: undefined })).toEqual(['analyst']);
    expect(extractRoles(claims, { realmRoles: false, clientId: 'mlfp-api' })).toEqual(['administrator']);
  });
});

describe('roleAllows', () => {
  it('lets a stronger role do what a weaker one may, and not the other way round', () => {
    expect(roleAllows(['administrator'], 'read_only')).toBe(true);
    expect(roleAllows(['analyst'], 'analyst')).toBe(true);
    expect(roleAllows(['analyst'], 'administrator')).toBe(false);
    expect(roleAllows(['read_only'], 'analyst')).toBe(false);
    expect(roleAllows([], 'read_only')).toBe(false);
  });
});
