import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ResetLinkUnusable } from '../../src/accounts/reset-links.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A Django pbkdf2_sha256 hash (of "pw"): a hash an import may bring, verifiable at sign-in.
const IMPORTED_HASH = 'pbkdf2_sha256$1000$salt$etvIYzahDDsZRQu6hVil8BK95/nox/x8ynfLmRB1hno=';
// The source's earlier hash of the same account (another salt): the import's later run brings IMPORTED_HASH.
const FIRST_IMPORTED_HASH = 'pbkdf2_sha256$1000$salt2$etvIYzahDDsZRQu6hVil8BK95/nox/x8ynfLmRB1hno=';

describe('a password-reset link works only for the password it was created to replace', () => {
  let server: TestServer;
  let counter = 0;
  const stamp = Date.now();

  before(async () => { server = await startTestServer(); });
  after(() => server?.stop());

  async function newUser(imported = false) {
    counter += 1;
    const user = { username: `links-${stamp}-${counter}`, password: `links ${counter} first pw` };
    // An import changes only accounts an import made.
    if (imported) return { user, account: (await server.services.accounts.importAccount({ username: user.username, active: true, roles: [], passwordHash: FIRST_IMPORTED_HASH })).account! };
    return { user, account: await server.services.accounts.create(user) };
  }

  /** Why the link cannot be used, or `usable`. */
  async function stateOf(token: string): Promise<string> {
    try {
      await server.services.resetLinks.check(token);
      return 'usable';
    } catch (error) {
      if (error instanceof ResetLinkUnusable) return error.reason;
      throw error;
    }
  }

  it('every way of setting a password voids the account’s outstanding links, and only that account’s', async () => {
    const { accounts, resetLinks } = server.services;
    // A link is void once the password changes ('superseded'); a newer link spends it at once ('used').
    const ways: Array<[string, (accountId: string, username: string, password: string) => Promise<unknown>, string?, boolean?]> = [
      ['an administrator’s set-password (the console and the CLI’s `user set-password`)', (id) => accounts.setPassword(id, 'set by an admin pw', { actor: 'cli' })],
      ['the holder’s own change on /account', (id, _username, password) => accounts.changePassword(id, password, 'changed by the holder', {}, { keep: undefined })],
      ['an import that brings a new hash', (_id, username) => accounts.importAccount({ username, active: true, roles: [], passwordHash: IMPORTED_HASH }), 'superseded', true],
      ['another link of the account, redeemed', async (id) => resetLinks.redeem((await resetLinks.create(id, { actor: 'test' })).token, 'redeemed other pw', 'redeemed other pw'), 'used'],
    ];
    const bystander = await newUser();
    const bystanderLink = (await resetLinks.create(bystander.account.id, { actor: 'test' })).token;
    for (const [way, setPassword, reason = 'superseded', imported = false] of ways) {
      const { user, account } = await newUser(imported);
      const outstanding = [(await resetLinks.create(account.id, { actor: 'test' })).token];
      for (const token of outstanding) expect(await stateOf(token), `before ${way}`).to.equal('usable');
      await setPassword(account.id, user.username, user.password);
      for (const token of outstanding) expect(await stateOf(token), way).to.equal(reason);
      const password = await accounts.passwordStamp(account.id);
      try {
        await resetLinks.redeem(outstanding[0]!, 'taken over pw', 'taken over pw');
        expect.fail(`a voided link set the password after ${way}`);
      } catch (error) {
        expect(error, way).to.be.instanceOf(ResetLinkUnusable);
      }
      expect(await accounts.passwordStamp(account.id), `${way}: the password stays`).to.equal(password);
    }
    expect(await stateOf(bystanderLink), 'another account’s link').to.equal('usable');
  });

  it('a link created after a password change works', async () => {
    const { account } = await newUser();
    await server.services.accounts.setPassword(account.id, 'set before the link pw');
    const { token } = await server.services.resetLinks.create(account.id, { actor: 'test' });
    await server.services.resetLinks.redeem(token, 'set through the link', 'set through the link');
    expect(await server.services.accounts.authenticate(account.username, 'set through the link')).to.not.equal(undefined);
  });

  it('a link stored before links were bound to the password is void', async () => {
    const { account } = await newUser();
    // The former shape: a bare random id, the secret's SHA-256.
    const id = randomBytes(12).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    await server.services.storage.passwordResetLinks.insert({
      id, accountId: account.id, secretHash: createHash('sha256').update(secret).digest('base64url'), createdBy: 'test', expiresAt: new Date(Date.now() + 60_000),
    });
    expect(await stateOf(`${id}.${secret}`)).to.equal('superseded');
  });

  it('of a link and a password change racing it, the link writes nothing once the password moved', async () => {
    const { user, account } = await newUser();
    const { token } = await server.services.resetLinks.create(account.id, { actor: 'test' });
    // The link's check happened against the first password; the change lands before its write.
    const { stamp: checkedAgainst } = await server.services.resetLinks.check(token);
    await server.services.accounts.setPassword(account.id, 'set meanwhile pw');
    expect(await server.services.accounts.resetPassword(account.id, 'late link pw', checkedAgainst, {})).to.equal(false);
    expect(await server.services.accounts.authenticate(user.username, 'set meanwhile pw')).to.not.equal(undefined);
  });
});
