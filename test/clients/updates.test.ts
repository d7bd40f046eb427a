import { expect } from 'chai';
import { runCli } from '../support/cli.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { isActive } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('client updates', () => {
  let server: TestServer;
  const user = { username: `tess-${Date.now()}`, password: 'client updates password' };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  const whoami = async (token: string) => (await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status;

  it('made at once to different fields all hold: none is written over by another’s stale copy', async () => {
    const { clients } = server.services;
    for (let round = 0; round < 4; round += 1) {
      const { client } = await clients.create({ name: `Concurrent ${round}`, grantTypes: ['client_credentials'], scope: ['read', 'write'] });
      await Promise.all([
        clients.update(client.clientId, { scope: ['read'] }),
        clients.update(client.clientId, { name: `Renamed ${round}` }),
        clients.update(client.clientId, { description: `Described ${round}` }),
      ]);
      const after = await clients.show(client.clientId);
      expect({ scope: after.scope, name: after.name, description: after.description }, `round ${round}`)
        .to.deep.equal({ scope: ['read'], name: `Renamed ${round}`, description: `Described ${round}` });
    }
  });

  it('that take a scope or a grant type away end every token and grant the client holds', async () => {
    const { clients } = server.services;
    const { client, clientSecret } = await clients.create({ name: 'Narrowed', grantTypes: ['password', 'refresh_token', 'client_credentials'], scope: ['read', 'write', 'offline_access'] });
    const auth = { authorization: basicAuth(client.clientId, clientSecret!) };
    const machine = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read write' }, auth)).json.access_token as string;
    const signedIn = (await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read write offline_access' }, auth)).json;
    expect(await whoami(machine)).to.equal(200);

    // Adding and renaming take nothing away: tokens live on.
    await clients.update(client.clientId, { name: 'Narrowed, renamed', scope: ['read', 'write', 'offline_access', 'profile'] });
    expect(await whoami(machine)).to.equal(200);
    expect(await whoami(signedIn.access_token as string)).to.equal(200);

    await clients.update(client.clientId, { scope: ['read', 'offline_access'] });
    expect(await whoami(machine)).to.equal(401);
    expect(await whoami(signedIn.access_token as string)).to.equal(401);
    const refreshed = await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: signedIn.refresh_token as string }, auth);
    expect(refreshed.status).to.equal(400);
    expect(refreshed.json.error).to.equal('invalid_grant');
    // New tokens carry only what the client may have now.
    expect((await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'write' }, auth)).json.error).to.equal('invalid_scope');
    const fresh = (await postForm(`${server.url}/token`, { grant_type: 'password', ...user, scope: 'read offline_access' }, auth)).json;
    expect(await whoami(fresh.access_token as string)).to.equal(200);

    await clients.update(client.clientId, { grantTypes: ['password', 'refresh_token'] });
    expect(await whoami(fresh.access_token as string)).to.equal(401);
    const { items } = await server.services.audit.list({ clientId: client.clientId, perPage: 50 });
    expect(items.filter((event) => event.event === 'client.updated' && (event.detail as { tokensEnded?: boolean }).tokensEnded)).to.have.length(2);
  });

  it('that take a scope away leave no token carrying it once they return, though another process served the old client meanwhile', async () => {
    const { clients } = server.services;
    const { client, clientSecret } = await clients.create({ name: 'Narrowed elsewhere', grantTypes: ['client_credentials'], scope: ['read', 'write'] });
    const auth = { authorization: basicAuth(client.clientId, clientSecret!) };
    const minted: string[] = [];
    let minting = true;
    // This server keeps minting from its cached copy of the client while the CLI, another process, narrows it.
    const loop = (async () => {
      while (minting) {
        const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read write' }, auth);
        if (reply.status === 200) minted.push(reply.json.access_token as string);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const narrowed = await runCli(server, 'client', 'update', client.clientId, '--scope', 'read');
    minting = false;
    await loop;
    expect(narrowed.code, narrowed.stderr).to.equal(0);
    expect(minted.length).to.be.above(0);
    const live = [];
    for (const token of minted) if (await isActive(server, token, auth)) live.push(token);
    expect(live, `${live.length} of ${minted.length} tokens carrying write are live`).to.deep.equal([]);
  });
});
