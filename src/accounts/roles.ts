/** Roles from most to least privileged; a token carries the highest one an account has. */
const ORDER = ['admin', 'staff', 'user'];

/** The roles an account can hold (the `role:*` scopes of the registry name them too). */
export const ROLES: readonly string[] = ORDER;

export function primaryRole(roles: string[]): string {
  return ORDER.find((role) => roles.includes(role)) ?? 'user';
}
