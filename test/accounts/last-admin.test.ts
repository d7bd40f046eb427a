import { expect } from 'chai';
import { ConflictError } from '../../src/errors/app-error.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/pgbouncer.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * The console never leaves no active administrator (nobody could undo it
 * there), decided with the write itself: two administrators demoting each
 * other at the same moment cannot both succeed. A database of its own, where
 * these two are the only administrators.
 */
describe('the last active administrator', function () {
  this.timeout(60_000);
  let server: TestServer;
  let database: ScratchDatabase | undefined;
  const keep = { keepAnAdmin: true };

  before(async () => {
    database = process.env.DATABASE_URL ? await createScratchDatabase(process.env.TEST_SCRATCH_DATABASE_PREFIX ?? 'gh_last_admin_') : undefined;
    server = await startTestServer(database ? { DATABASE_URL: database.url } : {});
  });
  after(async () => {
    await server?.stop();
    await database?.drop();
  });

  const admins = async () => (await server.services.accounts.list({ perPage: 100 })).accounts.filter((account) => account.active && account.roles.includes('admin'));
  const admin = (name: string) => server.services.accounts.create({ username: `${name}-${Date.now()}`, password: `${name} admin password`, roles: ['admin'] });

  it('of two administrators demoting each other at once, exactly one succeeds; the other is a conflict and changes nothing', async () => {
    for (const round of [1, 2, 3]) {
      const [a, b] = await Promise.all([admin(`a${round}`), admin(`b${round}`)]);
      const outcomes = await Promise.allSettled([
        server.services.accounts.update(a.id, { roles: [] }, { actor: `user:${b.username}` }, keep),
        server.services.accounts.update(b.id, { roles: [] }, { actor: `user:${a.username}` }, keep),
      ]);
      expect(outcomes.map((o) => o.status).sort(), `round ${round}`).to.deep.equal(['fulfilled', 'rejected']);
      const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).to.be.instanceOf(ConflictError);
      expect(await admins()).to.have.length(1);
      // The one left is the last: demoting, disabling or deleting it is refused; other changes are not.
      const [last] = await admins();
      for (const attempt of [
        () => server.services.accounts.update(last!.id, { roles: ['user'] }, {}, keep),
        () => server.services.accounts.update(last!.id, { active: false }, {}, keep),
        () => server.services.accounts.delete(last!.id, {}, keep),
      ]) {
        expect(await attempt().then(() => 'done', (error: unknown) => (error as Error).name)).to.equal('ConflictError');
      }
      expect((await server.services.accounts.update(last!.id, { name: 'Still in charge' }, {}, keep)).name).to.equal('Still in charge');
      expect(await admins()).to.have.length(1);
      // The CLI (no guard) can still do it, as an operator recovering.
      await server.services.accounts.update(last!.id, { roles: [] });
      expect(await admins()).to.have.length(0);
    }
  });
});
