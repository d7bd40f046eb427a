import { pbkdf2Sync } from 'node:crypto';
import { expect } from 'chai';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * A user's role is written into their tokens (a JWT access token's `role`,
 * introspection's `role`), and resource servers act on it. Taking a role
 * away ends every grant and token the account holds, as a deactivation
 * does, so that no token issued before the change still says what the
 * account no longer is: the next token the client gets carries the role it
 * has now. Adding a role ends nothing (an old token claims less than the
 * account may do, not more).
 */
describe('taking a role away ends every grant and token of the account', () => {
  let server: TestServer;
  let app: { clientId: string; clientSecret: string };
  let counter = 0;
  const stamp = Date.now();

  before(async () => {
    server = await startTestServer();
    const made = await server.services.clients.create({
      name: `Role reader ${stamp}`, grantTypes: ['password', 'refresh_token'], scope: ['read'], tokenFormat: 'jwt',
    });
    app = { clientId: made.client.clientId, clientSecret: made.clientSecret! };
  });

  after(() => server?.stop());

  const auth = () => ({ authorization: basicAuth(app.clientId, app.clientSecret) });

  async function signIn(user: { username: string; password: string }): Promise<{ access_token: string; refresh_token: string }> {
    const answer = await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read' }, auth());
    expect(answer.status, answer.text).to.equal(200);
    return answer.json as { access_token: string; refresh_token: string };
  }

  const roleIn = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { role?: string }).role;
  const introspect = async (token: string) => (await postForm(`${server.url}/token/introspection`, { token }, auth())).json;
  const whoami = async (token: string) => (await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status;
  const refresh = async (token: string) => (await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: token }, auth())).status;

  /** What a client and a resource server can still do with the tokens. */
  async function standing(tokens: { access_token: string; refresh_token: string }) {
    return {
      access: (await introspect(tokens.access_token)).active,
      refresh: (await introspect(tokens.refresh_token)).active,
      whoami: await whoami(tokens.access_token),
    };
  }

  async function auditOf(event: string, accountId: string): Promise<Array<Record<string, unknown>>> {
    const { items } = await server.services.audit.list({ perPage: 500 });
    return items.filter((e) => e.event === event && e.detail.account_id === accountId).map((e) => e.detail);
  }

  async function newUser(roles: string[]) {
    counter += 1;
    const user = { username: `demoted-${stamp}-${counter}`, password: `demoted ${counter} password` };
    return { user, account: await server.services.accounts.create({ ...user, roles }) };
  }

  it('admin to user through the service: the old JWT and refresh token introspect active:false, /api/whoami answers 401, and the next token says user', async () => {
    const { user, account } = await newUser(['admin']);
    const tokens = await signIn(user);
    expect(roleIn(tokens.access_token)).to.equal('admin');
    expect(await introspect(tokens.access_token)).to.include({ active: true, role: 'admin' });
    expect(await standing(tokens), 'before the change').to.deep.equal({ access: true, refresh: true, whoami: 200 });

    await server.services.accounts.update(user.username, { roles: ['user'] }, { actor: 'cli' });

    expect(await standing(tokens), 'after the admin role was taken away').to.deep.equal({ access: false, refresh: false, whoami: 401 });
    expect(await refresh(tokens.refresh_token)).to.equal(400);
    const fresh = await signIn(user);
    expect(roleIn(fresh.access_token), 'the next token carries the current role').to.equal('user');
    expect(await introspect(fresh.access_token)).to.include({ active: true, role: 'user' });
    const [detail] = await auditOf('account.updated', account.id);
    expect(detail).to.deep.include({ fields: ['roles'], changes: { roles: { from: ['admin'], to: ['user'] } }, tokensEnded: true });
  });

  it('any role taken away ends them, even one the token did not name (admin and staff to admin)', async () => {
    const { user } = await newUser(['admin', 'staff']);
    const tokens = await signIn(user);
    await server.services.accounts.update(user.username, { roles: ['admin'] });
    expect(await standing(tokens)).to.deep.equal({ access: false, refresh: false, whoami: 401 });
  });

  it('adding a role, or changing the name, ends nothing', async () => {
    const { user, account } = await newUser(['user']);
    const tokens = await signIn(user);
    await server.services.accounts.update(user.username, { roles: ['user', 'admin'], name: 'Promoted' });
    expect(await standing(tokens)).to.deep.equal({ access: true, refresh: true, whoami: 200 });
    expect(await refresh(tokens.refresh_token)).to.equal(200);
    const [detail] = await auditOf('account.updated', account.id);
    expect(detail).to.not.have.property('tokensEnded');
  });

  it('a re-import that takes the role away at the source ends them too', async () => {
    counter += 1;
    const user = { username: `reimported-admin-${stamp}-${counter}`, password: `imported ${counter} password` };
    const hash = `pbkdf2_sha256$1000$salt${counter}$${pbkdf2Sync(user.password, `salt${counter}`, 1000, 32, 'sha256').toString('base64')}`;
    const row = { username: user.username, active: true, roles: ['admin'], passwordHash: hash };
    const created = await server.services.accounts.importAccount(row, { source: `roles-${stamp}` });
    expect(created.outcome).to.equal('created');
    const tokens = await signIn(user);
    expect(roleIn(tokens.access_token)).to.equal('admin');

    const [result] = await server.services.accounts.importAccounts([{ ...row, roles: [] }], { source: `roles-${stamp}` });
    expect(result).to.deep.include({ outcome: 'updated' });

    expect(await standing(tokens)).to.deep.equal({ access: false, refresh: false, whoami: 401 });
    expect(roleIn((await signIn(user)).access_token)).to.equal('user');
    const [detail] = await auditOf('account.imported', created.account!.id);
    expect(detail).to.deep.include({ outcome: 'updated', fields: ['roles'], tokensEnded: true });
  });
});
