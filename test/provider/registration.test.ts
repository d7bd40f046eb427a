import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { runCli } from '../support/cli.js';
import { postJson, send, type Reply } from '../support/http.js';
import { REDIRECT_URI } from '../support/oidc.js';
import { restartableEnv, startTestServer, type TestServer } from '../support/server.js';

/** Scopes that are not a string (RFC 7591 §2: "String containing a space-separated list of scope values"). */
const NOT_A_STRING: unknown[] = [['admin'], 1, {}, [1], true, null];

/** A registered client's RFC 7592 handle: its URI and its current registration access token (rotated by each update). */
interface Registration { uri: string; clientId: string; rat: string }

/** RFC 7591 registration and RFC 7592 updates at `server()`, with a new initial access token for each registration. */
function registrationsAt(server: () => TestServer) {
  return {
    clientCount: async () => (await server().services.clients.list({ perPage: 1 })).total,
    register: async (metadata: Record<string, unknown>): Promise<Reply> => {
      const { token } = await issueInitialAccessToken(server().services.provider, 600);
      return postJson(`${server().url}/reg`, metadata, { authorization: `Bearer ${token}` });
    },
    registration: (registered: Reply): Registration => ({
      uri: (registered.json.registration_client_uri as string).replace(server().issuer, server().url),
      clientId: registered.json.client_id as string,
      rat: registered.json.registration_access_token as string,
    }),
    /** RFC 7592 §2.2: the whole new metadata, with the registration access token. */
    update: async (handle: Registration, metadata: Record<string, unknown>): Promise<Reply> => {
      const reply = await send(handle.uri, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${handle.rat}` },
        body: JSON.stringify({ client_id: handle.clientId, ...metadata }),
      });
      if (reply.status === 200) handle.rat = reply.json.registration_access_token as string;
      return reply;
    },
  };
}

/**
 * RFC 7591 registration and RFC 7592 updates: a field is absent only when it
 * is not sent; one sent with the wrong type is the registrant's mistake,
 * answered invalid_client_metadata (§3.2.2), never given a default.
 */
describe('dynamic registration (RFC 7591, RFC 7592): metadata of the wrong type', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const { clientCount, register, registration, update } = registrationsAt(() => server);

  it('refuses a scope that is not a string with invalid_client_metadata, and registers nothing', async () => {
    const before = await clientCount();
    for (const scope of NOT_A_STRING) {
      const reply = await register({ redirect_uris: [REDIRECT_URI], scope });
      expect(reply.status, `${JSON.stringify(scope)}: ${reply.text}`).to.equal(400);
      expect(reply.json.error).to.equal('invalid_client_metadata');
      expect(reply.json.error_description).to.equal('scope: must be a string of scope names separated by spaces');
    }
    expect(await clientCount()).to.equal(before);
  });

  it('refuses such a scope on an RFC 7592 update, leaving the client\'s scopes as they were', async () => {
    const registered = await register({ redirect_uris: [REDIRECT_URI], scope: 'openid' });
    expect(registered.status, registered.text).to.equal(201);
    const handle = registration(registered);
    // null reads as omitted on an update (RFC 7592 §2.2): the default, tested below.
    for (const scope of NOT_A_STRING.filter((value) => value !== null)) {
      const reply = await update(handle, { redirect_uris: [REDIRECT_URI], scope });
      expect(reply.status, `${JSON.stringify(scope)}: ${reply.text}`).to.equal(400);
      expect(reply.json.error).to.equal('invalid_client_metadata');
    }
    expect((await server.services.clients.show(handle.clientId)).scope).to.deep.equal(['openid']);
    const changed = await update(handle, { redirect_uris: [REDIRECT_URI], scope: 'openid email' });
    expect(changed.status, `the control, with the same token: ${changed.text}`).to.equal(200);
    expect((await server.services.clients.show(handle.clientId)).scope).to.deep.equal(['openid', 'email']);
  });

  it('gives the default scope to a client that sends none, registered with openid-client, and to an update without one', async () => {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const config = await oidc.dynamicClientRegistration(new URL(server.issuer), { redirect_uris: [REDIRECT_URI] }, undefined, {
      initialAccessToken: token, execute: [oidc.allowInsecureRequests],
    });
    const registered = config.clientMetadata();
    expect(registered.scope).to.equal('openid profile email');
    const handle = registration(await register({ redirect_uris: [REDIRECT_URI], scope: 'openid' }));
    const omitted = await update(handle, { redirect_uris: [REDIRECT_URI] });
    expect(omitted.status, omitted.text).to.equal(200);
    expect(omitted.json.scope, 'RFC 7592 §2.2: an omitted field is deleted, so the default again').to.equal('openid profile email');
    await update(handle, { redirect_uris: [REDIRECT_URI], scope: 'openid' });
    const nulled = await update(handle, { redirect_uris: [REDIRECT_URI], scope: null });
    expect(nulled.status, nulled.text).to.equal(200);
    expect(nulled.json.scope, 'null reads as omitted on an update').to.equal('openid profile email');
  });

  it('refuses every other field the client rules read when it has the wrong type, saying so, and registers nothing', async () => {
    const before = await clientCount();
    const wrong: Array<[string, unknown, string]> = [
      ['grant_types', 'authorization_code', 'must be a list of strings'],
      ['grant_types', ['authorization_code', 5], 'must be a list of strings'],
      ['redirect_uris', REDIRECT_URI, 'must be a list of strings'],
      ['redirect_uris', {}, 'must be a list of strings'],
      ['post_logout_redirect_uris', REDIRECT_URI, 'must be a list of strings'],
      ['backchannel_logout_uri', [REDIRECT_URI], 'must be a string'],
      ['client_name', 5, 'must be a string'],
      ['application_type', ['native'], 'must be native or web'],
      ['application_type', 'desktop', 'must be native or web'],
    ];
    for (const [field, value, message] of wrong) {
      const reply = await register({ redirect_uris: [REDIRECT_URI], scope: 'openid', [field]: value });
      const what = `${field} ${JSON.stringify(value)}: ${reply.text}`;
      expect(reply.status, what).to.equal(400);
      expect(reply.json.error, what).to.be.oneOf(['invalid_client_metadata', 'invalid_redirect_uri']);
      expect(reply.json.error_description, what).to.equal(`${field}: ${message}`);
    }
    expect(await clientCount()).to.equal(before);
  });
});

/**
 * Restricted scopes (those flagged `warning`) are never self-service
 * (SECURITY.md), including one restricted while the server runs: the CLI,
 * another process, changes the flag in storage, and the next registration or
 * update is judged by it.
 */
describe('dynamic registration (RFC 7591, RFC 7592): a scope restricted while the server runs', () => {
  let server: TestServer;
  let dataDir: string;
  const stamp = Date.now();
  // One scope per test, each known (and not restricted) when the server starts.
  const atRegistration = `later-reg-${stamp}`;
  const atUpdate = `later-upd-${stamp}`;
  const restrict = async (name: string) => {
    const changed = await runCli(server, 'scope', 'add', '--name', name, '--description', 'Reads reports', '--warning', '--replace');
    expect(changed.code, changed.stderr).to.equal(0);
  };

  before(async () => {
    let env: Record<string, string>;
    ({ env, dataDir } = await restartableEnv());
    // Registered, then a restart: the scopes are in the server's start-up lists.
    server = await startTestServer(env);
    for (const name of [atRegistration, atUpdate]) {
      const added = await runCli(server, 'scope', 'add', '--name', name, '--description', 'Reads reports');
      expect(added.code, added.stderr).to.equal(0);
    }
    await server.stop();
    server = await startTestServer(env);
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const { clientCount, register, registration, update } = registrationsAt(() => server);

  it('refuses at registration a scope another process made restricted after the server started, and registers nothing', async () => {
    const control = await register({ grant_types: ['client_credentials'], response_types: [], scope: atRegistration });
    expect(control.status, `before it is restricted: ${control.text}`).to.equal(201);
    await restrict(atRegistration);
    const before = await clientCount();
    const reply = await register({ grant_types: ['client_credentials'], response_types: [], scope: atRegistration });
    expect(reply.status, reply.text).to.equal(400);
    expect(reply.json.error).to.equal('invalid_client_metadata');
    expect(reply.json.error_description).to.equal(`scope: scope ${atRegistration} needs an administrator`);
    expect(await clientCount()).to.equal(before);
  });

  it('refuses an RFC 7592 update that adds a scope another process made restricted after the server started, leaving the client as it was', async () => {
    const registered = await register({ grant_types: ['client_credentials'], response_types: [], scope: 'write' });
    expect(registered.status, registered.text).to.equal(201);
    const handle = registration(registered);
    await restrict(atUpdate);
    const reply = await update(handle, { grant_types: ['client_credentials'], response_types: [], scope: `write ${atUpdate}` });
    expect(reply.status, reply.text).to.equal(400);
    expect(reply.json.error).to.equal('invalid_client_metadata');
    expect(reply.json.error_description).to.equal(`scope: scope ${atUpdate} needs an administrator`);
    expect((await server.services.clients.show(handle.clientId)).scope).to.deep.equal(['write']);
    const unchanged = await update(handle, { grant_types: ['client_credentials'], response_types: [], scope: 'write' });
    expect(unchanged.status, `the control, with the same token: ${unchanged.text}`).to.equal(200);
  });
});
