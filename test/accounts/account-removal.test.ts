import { expect } from 'chai';
import { SqlAccountsStore } from '../../adapters/sql/accounts-store.js';
import { migrate } from '../../adapters/sql/migrate.js';
import type { AccountTokenStore } from '../../adapters/contract.js';
import { AccountService } from '../../src/accounts/service.js';
import { sqlDatabasesUnderTest } from '../support/sql-databases.js';

/** Revocations that fail while `down` is set (storage unreachable), counted. */
function tokensThatMayFail(): AccountTokenStore & { down: boolean; revoked: string[] } {
  const tokens = {
    down: false,
    revoked: [] as string[],
    async revokeAll(accountId: string) {
      if (tokens.down) throw new Error('storage unreachable');
      tokens.revoked.push(accountId);
      return 1;
    },
    async grantsOf() { return []; },
    async revokeGrant() { return false; },
  };
  return tokens;
}

for (const database of sqlDatabasesUnderTest()) describe(`removing a user whose tokens cannot be revoked yet (${database.name})`, () => {
  let close: () => Promise<void>;
  let accounts: AccountService;
  let tokens: ReturnType<typeof tokensThatMayFail>;

  beforeEach(async () => {
    const opened = await database.open();
    close = opened.close;
    await migrate(opened.db);
    tokens = tokensThatMayFail();
    accounts = new AccountService(new SqlAccountsStore(opened.db), tokens);
  });
  afterEach(() => close());

  const username = () => `removal-${process.pid}-${Date.now()}`;

  it('delete: the user stays, inactive and unable to sign in, until a delete run again revokes their tokens', async () => {
    const name = username();
    const { id } = await accounts.create({ username: name, password: 'removal password 1' });
    tokens.down = true;
    const failed = await accounts.delete(name).then(() => undefined, (error: Error) => error);
    expect(failed?.message).to.equal('storage unreachable');
    expect(await accounts.findById(id)).to.include({ active: false });
    expect(await accounts.authenticate(name, 'removal password 1')).to.equal(undefined);

    tokens.down = false;
    expect(await accounts.delete(name)).to.deep.include({ revokedGrants: 1 });
    expect(tokens.revoked).to.deep.equal([id]);
    expect(await accounts.findById(id)).to.equal(undefined);
  });

  it('deactivate: run again, it revokes what the first run could not', async () => {
    const name = username();
    const { id } = await accounts.create({ username: name, password: 'removal password 2' });
    tokens.down = true;
    expect(await accounts.update(name, { active: false }).then(() => 'done', (error: Error) => error.message)).to.equal('storage unreachable');
    expect(await accounts.findById(id)).to.include({ active: false });

    tokens.down = false;
    await accounts.update(name, { active: false });
    expect(tokens.revoked).to.deep.equal([id]);
  });
});
