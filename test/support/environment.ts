/**
 * Loaded before every test file (.mocharc.json `require`). With a server
 * database Gatehouse needs SECRETS_KEY (there is no key file a second process
 * could share), so the suite uses one fixed test key, set here so that the
 * processes tests spawn inherit it too. The embedded runs leave it unset and
 * so exercise the generated key file.
 */
export const TEST_SECRETS_KEY = 'Z2F0ZWhvdXNlIHRlc3Qgc2VjcmV0cyBrZXkgKDMyQik=';

if (process.env.DATABASE_URL && !process.env.SECRETS_KEY) process.env.SECRETS_KEY = TEST_SECRETS_KEY;

// Every test server, in this process or spawned, is reached from 127.0.0.1
// and, with Redis, shares its counters: the per-address failure limit would
// couple unrelated tests. The brute-force tests set their own limits and use
// distinct addresses.
process.env.IP_FAILURE_LIMIT ??= '100000';

// Mocha root hooks (this file is the `require` of .mocharc.json): a Redis
// Cluster some test files share (TEST_REDIS_CLUSTER=1) is stopped once, at the
// end, and folders a test forgot to remove fail the run.
export const mochaHooks = {
  async afterAll(): Promise<void> {
    const { stopSharedRedisCluster } = await import('./redis-servers.js');
    try {
      await stopSharedRedisCluster();
    } finally {
      (await import('./embedded-data.js')).removeTemplate();
      // Every test removes what it made (test/support/folders.ts).
      const left = (await import('./folders.js')).foldersLeftBehind();
      if (left.length) throw new Error(`test folders left behind:\n${left.join('\n')}`);
    }
  },
};
