/**
 * `npm run bench:console`: how fast are the admin console's lists with
 * BENCH_CLIENTS clients (default 10,000) and BENCH_USERS users (default
 * 100,000)? Seeds the clients through ClientService (the path the CLI and /v2
 * take: validation, a secret each) and the users through
 * AccountService.importAccounts (the bulk path of `import users`, pages of
 * 1,000, all with one precomputed argon2id hash), signs in as an
 * administrator through Gatehouse's login page, then times whole pages as a
 * browser gets them (session and role check, query, rendering): the median
 * and p90 of BENCH_REPEATS requests (default 15) each. Uses DATABASE_URL /
 * REDIS_URL when set, else the embedded database.
 */
// The test suite's settings (a SECRETS_KEY with DATABASE_URL): this is a throwaway server.
import '../test/support/environment.js';
import { hashPassword } from '../src/accounts/passwords.js';
import { FormBrowser } from '../test/support/form-browser.js';
import { startTestServer } from '../test/support/server.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10_000);
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const CONCURRENCY = 8;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  const server = await startTestServer();
  try {
    const { clients, accounts } = server.services;
    const admin = { username: `bench-admin-${Date.now()}`, password: 'bench admin password' };
    await accounts.create({ ...admin, roles: ['admin'] });
    const started = Date.now();
    const existing = (await clients.list({ perPage: 1 })).total;
    let next = existing;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < CLIENTS) {
        const n = (next += 1);
        await clients.create({ name: `bench-client-${String(n).padStart(6, '0')}`, grantTypes: ['client_credentials'], scope: ['read'] });
      }
    }));
    const { total } = await clients.list({ perPage: 1 });
    console.log(`seeded ${total - existing} clients in ${((Date.now() - started) / 1000).toFixed(1)} s (${total} in all)`);
    const usersStarted = Date.now();
    const passwordHash = await hashPassword('bench user password');
    const userName = (n: number) => `user-${String(n).padStart(6, '0')}`;
    for (let from = (await accounts.list({ perPage: 1 })).total; from < USERS; from += 1000) {
      const page = Array.from({ length: Math.min(1000, USERS - from) }, (_, i) => from + i + 1);
      await accounts.importAccounts(page.map((n) => ({
        username: userName(n), email: `${userName(n)}@example.test`, name: `Bench User ${n}`, active: true, roles: ['user'], passwordHash,
      })));
    }
    const users = (await accounts.list({ perPage: 1 })).total;
    console.log(`seeded users in ${((Date.now() - usersStarted) / 1000).toFixed(1)} s (${users} in all)`);

    const browser = new FormBrowser();
    const login = await browser.navigate(`${server.issuer}/admin/clients`);
    const landed = await browser.submit(login, '/login', admin);
    if (landed.status !== 200) throw new Error(`sign-in answered ${landed.status}`);
    const last = Math.ceil(total / 20);
    const one = (await clients.list({ name: `bench-client-${String(CLIENTS).padStart(6, '0')}`, perPage: 1 })).clients[0]!;
    const pages: Array<[string, string]> = [
      ['/admin/clients (first page)', '/admin/clients'],
      [`/admin/clients?page=${last} (the last)`, `/admin/clients?page=${last}`],
      [`/admin/clients?q=${one.name} (one match)`, `/admin/clients?q=${one.name}`],
      ['/admin/clients?q=9 (many matches)', '/admin/clients?q=9'],
      ['/admin/clients/ID (one client)', `/admin/clients/${one.clientId}`],
    ];
    if (USERS > 0) {
      const lastUsers = Math.ceil(users / 20);
      const someone = (await accounts.list({ search: userName(USERS), perPage: 1 })).accounts[0]!;
      pages.push(
        ['/admin/users (first page)', '/admin/users'],
        [`/admin/users?page=${lastUsers} (the last)`, `/admin/users?page=${lastUsers}`],
        [`/admin/users?q=${userName(USERS)} (one match)`, `/admin/users?q=${userName(USERS)}`],
        ['/admin/users?q=example.test (every user, by email)', '/admin/users?q=example.test'],
        ['/admin/users?q=9 (many matches)', '/admin/users?q=9'],
        ['/admin/users/ID (one user, their grants and sessions)', `/admin/users/${someone.id}`],
      );
    }
    console.log('| page | median | p90 |\n| --- | --- | --- |');
    for (const [label, path] of pages) {
      const times: number[] = [];
      for (let i = 0; i < REPEATS; i += 1) {
        const at = performance.now();
        const page = await browser.request(`${server.issuer}${path}`);
        times.push(performance.now() - at);
        if (page.status !== 200) throw new Error(`${path} answered ${page.status}`);
      }
      times.sort((a, b) => a - b);
      console.log(`| \`${label}\` | ${percentile(times, 0.5).toFixed(0)} ms | ${percentile(times, 0.9).toFixed(0)} ms |`);
    }
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
