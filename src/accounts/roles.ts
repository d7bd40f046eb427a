/** Roles from most to least privileged; a token carries the highest one an account has. */
const ORDER = ['admin', 'staff', 'user'];

export function primaryRole(roles: string[]): string {
  return ORDER.find((role) => roles.includes(role)) ?? 'user';
}
