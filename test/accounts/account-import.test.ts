import { expect } from 'chai';
import type { ImportedAccount } from '../../src/accounts/service.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A Django pbkdf2_sha256 hash (of "pw"): verifiable, so rows are judged on their other fields.
const HASH = 'pbkdf2_sha256$1000$salt$etvIYzahDDsZRQu6hVil8BK95/nox/x8ynfLmRB1hno=';

describe('Importing accounts a page at a time', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  const row = (username: string, extra: Partial<ImportedAccount> = {}): ImportedAccount => ({ username, active: true, roles: [], passwordHash: HASH, ...extra });

  async function importedEvents(usernames: string[]): Promise<string[]> {
    const { items } = await server.services.audit.list({ perPage: 500 });
    return items.filter((e) => e.event === 'account.imported' && usernames.includes(String(e.detail.username))).map((e) => String(e.detail.username));
  }

  it('answers every row in order; a refused row (bad email, a username equal to an earlier one once normalized, an unknown role) changes nothing and the others go ahead', async () => {
    const stamp = Date.now();
    const rows = [row(`ada-${stamp}`), row(`ADA-${stamp}`), row(`bob-${stamp}`, { email: 'not-an-address' }), row(`cy-${stamp}`, { roles: ['owner'] }), row(`dee-${stamp}`, { roles: ['admin'] })];
    const results = await server.services.accounts.importAccounts(rows);
    expect(results.map((r) => r.outcome)).to.deep.equal(['created', 'refused', 'refused', 'refused', 'created']);
    expect(results.map((r) => (r.outcome === 'refused' ? r.error.code : undefined))).to.deep.equal([undefined, 'conflict', 'invalid_input', 'invalid_input', undefined]);
    expect(results[1]!.outcome === 'refused' && results[1]!.error.message).to.include(`ada-${stamp}`);
    for (const username of [`bob-${stamp}`, `cy-${stamp}`]) {
      expect((await server.services.accounts.list({ search: username })).total, username).to.equal(0);
    }
    expect((await server.services.accounts.show(`ada-${stamp}`)).username, 'the first spelling keeps the account').to.equal(`ada-${stamp}`);
    expect((await server.services.accounts.show(`dee-${stamp}`)).roles).to.deep.equal(['admin']);
    expect((await importedEvents(rows.map((r) => r.username))).sort(), 'one audit row per account written').to.deep.equal([`ada-${stamp}`, `dee-${stamp}`]);
  });

  it('never changes an account made in Gatehouse (an administrator, say) that shares a username with the source: its password and roles stay', async () => {
    const stamp = Date.now();
    const native = { username: `admin-${stamp}`, password: 'the real admin password' };
    await server.services.accounts.create({ ...native, roles: ['admin'] });
    const [result] = await server.services.accounts.importAccounts([row(native.username, { roles: [] })]);
    expect(result!.outcome).to.equal('refused');
    expect(result!.outcome === 'refused' && result!.error.message).to.match(/made in Gatehouse, not by an import/);
    expect((await server.services.accounts.show(native.username)).roles).to.deep.equal(['admin']);
    expect(await server.services.accounts.authenticate(native.username, native.password), 'its own password still signs in').to.not.equal(undefined);
    expect(await server.services.accounts.authenticate(native.username, 'pw'), 'the source\'s does not').to.equal(undefined);
    // An account an import made is still the import's to update.
    await server.services.accounts.importAccounts([row(`imported-${stamp}`)]);
    const [again] = await server.services.accounts.importAccounts([row(`imported-${stamp}`, { email: 'new@example.org' })]);
    expect(again!.outcome).to.equal('updated');
  });

  it('a username equal to an existing account\'s once normalized, but spelled differently, is refused in a later page too, and the account keeps its own data', async () => {
    const stamp = Date.now();
    await server.services.accounts.importAccounts([row(`Zed-${stamp}`, { email: 'zed@example.org' })]);
    const [later] = await server.services.accounts.importAccounts([row(`zed-${stamp}`, { email: 'other@example.org' })]);
    expect(later!.outcome).to.equal('refused');
    expect(later!.outcome === 'refused' && later!.error.message).to.include(`Zed-${stamp}`);
    expect((await server.services.accounts.show(`Zed-${stamp}`)).email).to.equal('zed@example.org');
  });

  it('a re-run of the same page is unchanged throughout and writes no audit row; a changed row is updated', async () => {
    const stamp = Date.now();
    const rows = Array.from({ length: 25 }, (_, i) => row(`page-${stamp}-${i}`, { email: `p${i}@example.org` }));
    expect(new Set((await server.services.accounts.importAccounts(rows)).map((r) => r.outcome))).to.deep.equal(new Set(['created']));
    rows[7] = { ...rows[7]!, name: 'Renamed At Source' };
    const again = await server.services.accounts.importAccounts(rows);
    expect(again.filter((r) => r.outcome === 'unchanged')).to.have.length(24);
    expect(again[7]!.outcome).to.equal('updated');
    expect((await server.services.accounts.show(`page-${stamp}-7`)).name).to.equal('Renamed At Source');
    expect(await importedEvents(rows.map((r) => r.username))).to.have.length(26);
  });

  it('refuses a row whose id (kept from an export) is another account\'s here, in a dry run as in the real one', async () => {
    const stamp = Date.now();
    const holder = await server.services.accounts.create({ username: `holder-${stamp}`, password: 'the holder password' });
    for (const dryRun of [true, false]) {
      const [result] = await server.services.accounts.importAccounts([row(`newcomer-${stamp}`, { id: holder.id })], { dryRun });
      expect(result!.outcome, `dryRun ${dryRun}`).to.equal('refused');
      expect(result!.outcome === 'refused' && result!.error.message).to.include(`belongs to the account "holder-${stamp}"`);
    }
    expect((await server.services.accounts.list({ search: `newcomer-${stamp}` })).total).to.equal(0);
  });

  it('a dry run answers what would happen and writes nothing', async () => {
    const stamp = Date.now();
    const results = await server.services.accounts.importAccounts([row(`dry-${stamp}`), row(`dry-${stamp}-bad`, { active: 'yes' as unknown as boolean })], { dryRun: true });
    expect(results.map((r) => r.outcome)).to.deep.equal(['created', 'refused']);
    expect((await server.services.accounts.list({ search: `dry-${stamp}` })).total).to.equal(0);
    expect(await importedEvents([`dry-${stamp}`])).to.deep.equal([]);
  });
});
