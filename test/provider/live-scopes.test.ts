import { expect } from 'chai';
import * as oidc from 'openid-client';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { runCli } from '../support/built-cli.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * A scope added to the registry while the server runs works at once, on
 * every path that reads scope names: a client an administrator gives it
 * (whoever wrote the scope and the client: this server or another process),
 * the token it gets (opaque, and a JWT for the API, whose `scope` keeps only
 * registered names), self-registration (RFC 7591) and discovery. Before, the
 * provider knew the names read at start-up only, and the client failed every
 * request with invalid_client_metadata until a restart.
 */
describe('a scope added while the server runs', () => {
  let server: TestServer;
  const stamp = Date.now().toString(36);
  let counter = 0;
  const newScope = () => `live-${stamp}-${(counter += 1)}`;

  before(async () => { server = await startTestServer(); });
  after(() => server?.stop());

  const token = (client: { clientId: string; clientSecret: string }, scope: string) =>
    postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope }, { authorization: basicAuth(client.clientId, client.clientSecret) });

  async function machineClient(tokenFormat: 'opaque' | 'jwt') {
    const made = await server.services.clients.create({ name: `Live scopes ${stamp} ${counter}`, grantTypes: ['client_credentials'], scope: ['read'], tokenFormat });
    const client = { clientId: made.client.clientId, clientSecret: made.clientSecret! };
    // The client is built by the running provider before the scope exists.
    expect((await token(client, 'read')).status).to.equal(200);
    return client;
  }

  it('is granted at once to a client the CLI gives it, with the scope added by the CLI (another process)', async () => {
    const client = await machineClient('opaque');
    const scope = newScope();
    expect((await runCli(server, 'scope', 'add', '--name', scope, '--description', 'Added while running')).code).to.equal(0);
    const updated = await runCli(server, 'client', 'update', client.clientId, '--scope', `read ${scope}`);
    expect(updated.code, updated.stderr).to.equal(0);
    const answer = await token(client, `read ${scope}`);
    expect(answer.status, answer.text).to.equal(200);
    expect(answer.json.scope).to.equal(`read ${scope}`);
    const introspected = await postForm(`${server.url}/token/introspection`, { token: answer.json.access_token as string }, { authorization: basicAuth(client.clientId, client.clientSecret) });
    expect(introspected.json.scope).to.equal(`read ${scope}`);
  });

  it('is granted at once to a client this server gives it, and carried in the API JWT', async () => {
    const client = await machineClient('jwt');
    const scope = newScope();
    await server.services.scopes.add({ name: scope, description: 'Added while running', warning: false });
    // The client service checks the change through the provider's own validation, in this process.
    await server.services.clients.update(client.clientId, { scope: ['read', scope] });
    const answer = await token(client, `read ${scope}`);
    expect(answer.status, answer.text).to.equal(200);
    const claims = JSON.parse(Buffer.from((answer.json.access_token as string).split('.')[1]!, 'base64url').toString()) as { scope?: string };
    expect(claims.scope).to.equal(`read ${scope}`);
  });

  it('can be asked for at self-registration (RFC 7591) and is listed in discovery', async () => {
    const scope = newScope();
    await server.services.scopes.add({ name: scope, description: 'Added while running', warning: false });
    const { token: initialAccessToken } = await issueInitialAccessToken(server.services.provider, 600);
    const registered = await oidc.dynamicClientRegistration(new URL(server.issuer), { redirect_uris: [REDIRECT_URI], scope: `openid ${scope}` }, undefined, {
      initialAccessToken, execute: [oidc.allowInsecureRequests],
    });
    expect(registered.clientMetadata().scope).to.equal(`openid ${scope}`);
    const discovery = await send(`${server.url}/.well-known/openid-configuration`, { method: 'GET' });
    expect(discovery.json.scopes_supported).to.include(scope);
  });

  it('is listed in discovery before any client names it, read again at most once a second', async () => {
    const scope = newScope();
    await runCli(server, 'scope', 'add', '--name', scope, '--description', 'Added while running');
    const listed = async () => ((await send(`${server.url}/.well-known/openid-configuration`, { method: 'GET' })).json.scopes_supported as string[]).includes(scope);
    const deadline = Date.now() + 3000;
    while (!(await listed())) {
      expect(Date.now(), 'listed within the second the registry is read again').to.be.below(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('still refuses a scope the registry does not hold, at every surface', async () => {
    const client = await machineClient('opaque');
    const unknown = `${newScope()}-never-added`;
    const updated = await runCli(server, 'client', 'update', client.clientId, '--scope', `read ${unknown}`);
    expect(updated.code).to.not.equal(0);
    expect(updated.stderr).to.contain(unknown);
    const { token: initialAccessToken } = await issueInitialAccessToken(server.services.provider, 600);
    const refused = await send(`${server.url}/reg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${initialAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], scope: `openid ${unknown}` }),
    });
    expect(refused.status, refused.text).to.equal(400);
    expect(refused.json.error).to.equal('invalid_client_metadata');
    const answer = await token(client, 'read');
    expect(answer.status, 'the client keeps working with what it has').to.equal(200);
  });
});
