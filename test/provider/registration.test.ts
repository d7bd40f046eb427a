import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { runCli } from '../support/cli.js';
import { basicAuth, postJson, send, type Reply } from '../support/http.js';
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

/**
 * URIs the server itself calls (OWASP SSRF prevention): back-channel logout
 * tokens are POSTed to `backchannel_logout_uri`, a client's keys are fetched
 * from `jwks_uri`, `sector_identifier_uri` is fetched at registration. A
 * registrant may not point them at the server's own network: https only, and
 * never a loopback, private, link-local or other special-use address literal,
 * nor localhost. (The loopback leeway of redirect URIs is for the user's own
 * device, RFC 8252 §7.3, which the server never calls.)
 */
describe('dynamic registration (RFC 7591, RFC 7592): URIs the server itself calls', () => {
  const FIELDS = ['backchannel_logout_uri', 'jwks_uri', 'sector_identifier_uri'] as const;
  /** What the server must never be made to call, and why. */
  const INTERNAL: Array<[string, string]> = [
    ['http://127.0.0.1:6379/x', 'loopback, plain http'],
    ['https://169.254.169.254/latest', 'link-local (cloud metadata)'],
    ['https://127.0.0.1/x', 'loopback'],
    ['https://127.8.9.10/x', 'loopback (all of 127.0.0.0/8)'],
    ['https://2130706433/x', '127.0.0.1 written as one number'],
    ['https://[::1]/x', 'IPv6 loopback'],
    ['https://[::ffff:127.0.0.1]/x', 'IPv4-mapped loopback'],
    ['https://localhost/x', 'localhost'],
    ['https://LocalHost./x', 'localhost, any case, fully qualified'],
    ['https://api.localhost/x', 'a name under localhost'],
    ['https://0.0.0.0/x', 'unspecified'],
    ['https://[::]/x', 'IPv6 unspecified'],
    ['https://10.1.2.3/x', 'private (RFC 1918)'],
    ['https://172.16.0.1/x', 'private (RFC 1918)'],
    ['https://192.168.1.1/x', 'private (RFC 1918)'],
    ['https://100.64.0.1/x', 'shared address space (carrier-grade NAT)'],
    ['https://[fd00::1]/x', 'unique local (fc00::/7)'],
    ['https://[fe80::1]/x', 'IPv6 link-local'],
    ['https://224.0.0.1/x', 'multicast'],
    ['https://198.51.100.7/x', 'documentation'],
    ['http://rp.example.test/x', 'plain http'],
  ];

  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const { clientCount, register, registration, update } = registrationsAt(() => server);
  const CLIENT = { redirect_uris: [REDIRECT_URI], scope: 'openid' };

  it('refuses a backchannel_logout_uri, jwks_uri or sector_identifier_uri on a loopback, private, link-local or other special-use address, on localhost, or over plain http, and registers nothing', async function () {
    this.timeout(120_000);
    const before = await clientCount();
    for (const field of FIELDS) {
      for (const [uri, why] of INTERNAL) {
        const reply = await register({ ...CLIENT, [field]: uri });
        const what = `${field} ${uri} (${why}): ${reply.text}`;
        expect(reply.status, what).to.equal(400);
        expect(reply.json.error, what).to.equal('invalid_client_metadata');
        expect(reply.json.error_description, what).to.match(new RegExp(`^${field}: \\S+ (must use https|must not name)`));
      }
    }
    expect(await clientCount()).to.equal(before);
  });

  it('refuses such a backchannel_logout_uri on an RFC 7592 update, leaving the client as it was', async () => {
    const handle = registration(await register({ ...CLIENT, backchannel_logout_uri: 'https://rp.example.test/logout' }));
    for (const uri of ['http://127.0.0.1:6379/x', 'https://169.254.169.254/latest']) {
      const reply = await update(handle, { ...CLIENT, backchannel_logout_uri: uri });
      expect(reply.status, reply.text).to.equal(400);
      expect(reply.json.error).to.equal('invalid_client_metadata');
    }
    const stored = await server.services.storage.clients.find(handle.clientId);
    expect(stored?.metadata.backchannel_logout_uri).to.equal('https://rp.example.test/logout');
  });

  it('accepts a backchannel_logout_uri and a jwks_uri over https on a public host name or address (the control)', async () => {
    for (const [field, uri] of [
      ['backchannel_logout_uri', 'https://rp.example.test/logout'],
      ['backchannel_logout_uri', 'https://93.184.215.14:8443/logout'],
      ['backchannel_logout_uri', 'https://[2606:4700::1111]/logout'],
      ['jwks_uri', 'https://rp.example.test/jwks.json'],
    ] as const) {
      const reply = await register({ ...CLIENT, [field]: uri });
      expect(reply.status, `${field} ${uri}: ${reply.text}`).to.equal(201);
      expect(reply.json[field]).to.equal(uri);
    }
  });
});

/**
 * ALLOW_LOOPBACK_CALLBACKS (development and tests only) lets the server call
 * a back-channel logout URI on this machine: 127.0.0.1, [::1] or localhost,
 * the hosts whose calls it lets through. Nothing else it refuses is let in.
 */
describe('dynamic registration with ALLOW_LOOPBACK_CALLBACKS (development): URIs the server itself calls', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ALLOW_LOOPBACK_CALLBACKS: 'true' });
  });
  after(() => server.stop());

  const { register } = registrationsAt(() => server);
  const CLIENT = { redirect_uris: [REDIRECT_URI], scope: 'openid' };

  it('accepts a back-channel logout URI on 127.0.0.1, [::1] or localhost, over http or https, and still refuses private, link-local and other loopback addresses', async () => {
    for (const uri of ['http://127.0.0.1:4000/logout', 'https://[::1]/logout', 'http://localhost:4000/logout']) {
      const reply = await register({ ...CLIENT, backchannel_logout_uri: uri });
      expect(reply.status, `${uri}: ${reply.text}`).to.equal(201);
    }
    for (const uri of ['https://169.254.169.254/latest', 'https://10.1.2.3/x', 'https://127.0.0.2/x', 'https://api.localhost/x', 'http://rp.example.test/x']) {
      const reply = await register({ ...CLIENT, backchannel_logout_uri: uri });
      expect(reply.status, `${uri}: ${reply.text}`).to.equal(400);
      expect(reply.json.error, uri).to.equal('invalid_client_metadata');
    }
  });
});

/**
 * An RFC 7592 update that takes a scope or a grant type away from the
 * client ends every token it holds, as the same change does on every
 * administrator surface; an update that takes nothing away ends nothing.
 */
describe('dynamic registration (RFC 7592): a client narrowing itself', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(() => server.stop());

  const { register, registration, update } = registrationsAt(() => server);

  async function tokenOf(registered: Reply, scope: string): Promise<string> {
    const answer = await send(`${server.url}/token`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(registered.json.client_id as string, registered.json.client_secret as string) },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    expect(answer.status, answer.text).to.equal(200);
    return answer.json.access_token as string;
  }

  const works = async (token: string) => (await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status === 200;

  it('ends the tokens of a client that took a scope away, and keeps those of one that took nothing away', async () => {
    const metadata = { grant_types: ['client_credentials'], response_types: [], scope: 'read write', client_name: 'Narrowing' };
    const registered = await register(metadata);
    expect(registered.status, registered.text).to.equal(201);
    const handle = registration(registered);
    const kept = await tokenOf(registered, 'read write');
    const renamed = await update(handle, { ...metadata, client_name: 'Narrowing, renamed', client_secret: registered.json.client_secret });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(await works(kept), 'a change that takes nothing away ends nothing').to.equal(true);

    const narrowed = await update(handle, { ...metadata, scope: 'read', client_secret: registered.json.client_secret });
    expect(narrowed.status, narrowed.text).to.equal(200);
    expect(await works(kept), 'the wider token no longer works').to.equal(false);
    expect(await works(await tokenOf(registered, 'read')), 'a new token within the narrower scope does').to.equal(true);
    const managed = await update(handle, { ...metadata, scope: 'read', client_name: 'Still mine', client_secret: registered.json.client_secret });
    expect(managed.status, `the registrant still manages the client: ${managed.text}`).to.equal(200);
  });

  it('an administrator narrowing a registered client ends its registration access token too', async () => {
    const metadata = { grant_types: ['client_credentials'], response_types: [], scope: 'read write', client_name: 'Narrowed by an administrator' };
    const registered = await register(metadata);
    const handle = registration(registered);
    await server.services.clients.update(handle.clientId, { scope: ['read'] });
    const refused = await update(handle, { ...metadata, client_secret: registered.json.client_secret });
    expect(refused.status, 'the registrant cannot widen it again').to.equal(401);
    expect((await server.services.clients.show(handle.clientId)).scope).to.deep.equal(['read']);
  });
});
