/** Where each of Gatehouse's own signed-in surfaces lives (besides the Lux dashboard path); each has its sign-in routes under it. */
export const ADMIN_PATH = '/admin';
export const ACCOUNT_PATH = '/account';

/** Where a one-time password-reset link points (no sign-in needed there; src/account/reset-link.ts). */
export function resetLinkPath(token: string): string {
  return `${ACCOUNT_PATH}/reset/${encodeURIComponent(token)}`;
}
