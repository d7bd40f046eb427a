import { expect } from 'chai';
import { sqlDatabaseOf } from '../../adapters/factory.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 18: the console's user search (any part of username, email or name)
 * is served by trigram indexes (migration 0013), on PostgreSQL and in the
 * embedded database alike, so it does not scan the accounts table.
 */
describe('account search: trigram indexes', function () {
  this.timeout(60_000);
  let server: TestServer;
  const stamp = Date.now().toString(36);

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create({ username: `Trigram-${stamp}`, password: 'trigram password one', email: `someone.${stamp}@Example.test`, name: 'Ada Lovelace' });
    await server.services.accounts.create({ username: `other-${stamp}`, password: 'trigram password two' });
  });

  after(() => server?.stop());

  it('has a trigram index on each searched column', async () => {
    const { rows } = await sqlDatabaseOf(server.services.storage).query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'accounts' AND indexdef LIKE '%gin_trgm_ops%' ORDER BY indexname",
    );
    expect(rows.map((row) => row.indexname)).to.deep.equal(['accounts_email_trigrams', 'accounts_name_trigrams', 'accounts_username_trigrams']);
  });

  it('lets the planner answer a contains-search through them rather than a scan of the table', async () => {
    const plan = await sqlDatabaseOf(server.services.storage).transaction(async (tx) => {
      // With a handful of rows a scan is cheapest; forbid it to see whether the indexes can serve the search at all.
      await tx.exec('SET LOCAL enable_seqscan = off');
      const { rows } = await tx.query<{ 'QUERY PLAN': string }>(
        "EXPLAIN SELECT id FROM accounts WHERE lower(username) LIKE $1 OR lower(coalesce(email, '')) LIKE $1 OR lower(coalesce(name, '')) LIKE $1",
        ['%lovelace%'],
      );
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).to.include('accounts_username_trigrams').and.include('accounts_email_trigrams').and.include('accounts_name_trigrams');
    expect(plan).not.to.match(/Seq Scan on accounts/);
  });

  it('finds accounts by any part of username, email or name, whatever the case, and only those', async () => {
    const search = async (q: string) => (await server.services.accounts.list({ search: q })).accounts.map((account) => account.username);
    expect(await search(`IGRAM-${stamp}`)).to.deep.equal([`Trigram-${stamp}`]);
    expect(await search(`${stamp}@example`)).to.deep.equal([`Trigram-${stamp}`]);
    expect(await search('LOVELACE')).to.include(`Trigram-${stamp}`);
    expect(await search(`r-${stamp}`)).to.deep.equal([`other-${stamp}`]);
    // LIKE's wildcards in the search are taken literally.
    expect(await search(`%${stamp}`)).to.deep.equal([]);
  });
});
