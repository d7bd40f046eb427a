import { expect } from 'chai';
import pg from 'pg';
import { runCli } from '../support/cli.js';
import { send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { DotService, ensureDjangoOAuthToolkit, sourceServerProblem } from '../support/dot-service.js';

// More than two of the importer's pages (2,000 users each), so the users of
// one page are written while the previous page's tokens are, and tokens are
// read by the id range of their page.
const USERS = 4_500;

/**
 * A DOT database larger than one page, filled by the bench's load generator
 * (Django's ORM bulk_create; one access token and its refresh token per
 * user), imported as an operator would: every token belongs to its own user
 * afterwards, whichever page either fell in.
 */
describe('gatehouse import django-oauth-toolkit across many pages', function () {
  this.timeout(900_000);
  let dot: DotService | undefined;
  let server: TestServer | undefined;

  before(async function () {
    const missing = await sourceServerProblem() ?? await ensureDjangoOAuthToolkit();
    if (missing) {
      this.test!.parent!.title += ` (skipped: ${missing})`;
      this.skip();
    }
    dot = await DotService.create('gh_dot_pages');
    await dot.python('seed.py', 'bulk', String(USERS), String(USERS * 2));
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
    await dot?.destroy();
  });

  it('brings every user and token across, and each token still speaks for its own user at the page edges', async () => {
    const result = await runCli(server!, 'import', 'django-oauth-toolkit', '--database-url', dot!.database.url, '--json');
    expect(result.code, result.stderr).to.equal(0);
    type Counts = { created: number; updated: number; unchanged: number; skipped: number };
    const { tables } = JSON.parse(result.stdout) as { tables: Record<string, Counts> };
    for (const table of ['users', 'refreshTokens', 'accessTokens']) {
      const { created, updated, unchanged, skipped } = tables[table]!;
      // Created on a fresh database; unchanged if a run before this one (same storage) brought them already.
      expect({ across: created + updated + unchanged, skipped }, table).to.deep.equal({ across: USERS, skipped: 0 });
    }

    // The source's own rows say which user each token was issued to.
    const source = new pg.Client({ connectionString: dot!.database.url });
    await source.connect();
    try {
      const { rows } = await source.query<{ token: string; username: string }>(
        `SELECT a.token, u.username FROM oauth2_provider_accesstoken a JOIN auth_user u ON u.id = a.user_id
          ORDER BY u.id`,
      );
      expect(rows).to.have.length(USERS);
      // The first and last user of each page, and one in the middle.
      for (const index of [0, 1999, 2000, 2001, 3999, 4000, 4499, 1234]) {
        const { token, username } = rows[index]!;
        const whoami = await send(`${server!.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
        expect(whoami.status, `token of ${username}`).to.equal(200);
        const { sub } = whoami.json as { sub: string };
        expect((await server!.services.accounts.show(sub)).username, `token of ${username}`).to.equal(username);
      }
    } finally {
      await source.end();
    }
  });
});
