/**
 * Loaded before every test file (.mocharc.json `require`). With a server
 * database Gatehouse needs SECRETS_KEY (there is no key file a second process
 * could share), so the suite uses one fixed test key, set here so that the
 * processes tests spawn inherit it too. The embedded runs leave it unset and
 * so exercise the generated key file.
 */
export const TEST_SECRETS_KEY = 'Z2F0ZWhvdXNlIHRlc3Qgc2VjcmV0cyBrZXkgKDMyQik=';

if (process.env.DATABASE_URL && !process.env.SECRETS_KEY) process.env.SECRETS_KEY = TEST_SECRETS_KEY;
