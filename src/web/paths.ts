/** Where each of Gatehouse's own signed-in surfaces lives (besides the Lux dashboard path); each has its sign-in routes under it. */
export const ADMIN_PATH = '/admin';
export const ACCOUNT_PATH = '/account';
