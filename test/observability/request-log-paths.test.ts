import { Writable } from 'node:stream';
import { expect } from 'chai';
import { postForm, send } from '../support/http.js';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

type Line = Record<string, unknown>;

/** The security review's finding 1: secrets in URL paths never reach the request log. */
describe('request log: paths', () => {
  let server: TestServer;
  let captured = '';
  const sink = new Writable({ write(chunk, _enc, done) { captured += String(chunk); done(); } });
  const lines = (): Line[] => captured.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const requestLines = (): Line[] => lines().filter((l) => l.msg === 'request');

  before(async () => {
    server = await startTestServer({ LOG_LEVEL: 'trace' }, { logTo: sink });
  });

  after(() => server.stop());

  it('a password-reset link’s secret is in neither the GET nor the POST line: the path names the parameter, the route is the pattern', async () => {
    const account = await server.services.accounts.create({ username: `reset-${Date.now()}`, password: 'an old password' });
    const { token } = await server.services.resetLinks.create(account.id, { actor: 'test' });
    captured = '';
    await send(`${server.url}/account/reset/${token}`, { method: 'GET', headers: { 'x-request-id': 'reset-get' } });
    await postForm(`${server.url}/account/reset/${token}`, { password: 'a new password here', password_confirmation: 'a new password here' }, { 'x-request-id': 'reset-post' });
    // Percent-encoded and with a trailing slash, the router still matches it.
    await send(`${server.url}/account/reset/${encodeURIComponent(token).replace(/-/g, '%2D')}/`, { method: 'GET', headers: { 'x-request-id': 'reset-encoded' } });
    expect(captured.includes(token), 'the log holds the reset secret').to.equal(false);
    for (const id of ['reset-get', 'reset-post', 'reset-encoded']) {
      const line = requestLines().find((l) => l.req_id === id);
      expect(line, id).to.include({ route: '/account/reset/:token' });
      expect(String(line!.path), id).to.match(/^\/account\/reset\/:token\/?$/);
    }
  });

  it('an interaction’s uid is in no line of a sign-in: Gatehouse’s interaction pages and oidc-provider’s resume write it as :uid', async () => {
    const created = await server.services.clients.create({ name: 'Paths RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
    const user = { username: `uid-${Date.now()}`, password: 'a password for paths' };
    await server.services.accounts.create(user);
    captured = '';
    await authorize(await discover(server, created.client.clientId, created.clientSecret!), user, { scope: 'openid' });
    const interactions = requestLines().filter((l) => String(l.route).startsWith('/interaction/:uid'));
    const resumes = requestLines().filter((l) => l.route === 'oidc:resume');
    expect(interactions, 'the sign-in went through the interaction pages').to.not.have.length(0);
    expect(resumes, 'and back through the provider’s resume').to.not.have.length(0);
    for (const line of interactions) expect(String(line.path)).to.match(/^\/interaction\/:uid(\/|$)/);
    for (const line of resumes) expect(line.path).to.equal('/auth/:uid');
  });

  it('on a path no route matches, a segment long enough to be a secret is masked; short segments stay for debugging', async () => {
    const secret = 'VPkG-3x9Q2mZr7LwT1bNcY8dHfJ0sAeK5uIoP6gW4vE';
    captured = '';
    const reply = await send(`${server.url}/gatehouse/account/reset/${secret}`, { method: 'GET', headers: { 'x-request-id': 'unmatched' } });
    expect(reply.status).to.equal(404);
    expect(captured.includes(secret)).to.equal(false);
    expect(requestLines().find((l) => l.req_id === 'unmatched')).to.include({ path: '/gatehouse/account/reset/:masked', route: 'unmatched', status: 404 });
  });

  it('a path without parameters is written as it is', async () => {
    captured = '';
    await send(`${server.url}/healthz`, { method: 'GET', headers: { 'x-request-id': 'plain' } });
    expect(requestLines().find((l) => l.req_id === 'plain')).to.include({ path: '/healthz' });
  });
});
