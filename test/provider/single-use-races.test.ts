import { expect } from 'chai';
import * as oidc from 'openid-client';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { FormBrowser } from '../support/form-browser.js';
import { discover, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** What a registered client's management calls need (RFC 7592). */
interface Registration { clientId: string; uri: string; token: string }

describe('artifacts of the registration and PAR endpoints are single-use under concurrency', () => {
  let server: TestServer;
  const user = { username: `rhea-${Date.now()}`, password: 'single use password' };

  before(async () => {
    server = await startTestServer({ ALLOW_LOOPBACK_CALLBACKS: 'true' });
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  async function register(name: string): Promise<Registration> {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const response = await fetch(`${server.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ client_name: name, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
    });
    expect(response.status).to.equal(201);
    const body = await response.json() as { client_id: string; registration_client_uri: string; registration_access_token: string };
    return { clientId: body.client_id, uri: body.registration_client_uri, token: body.registration_access_token };
  }

  function update(registration: Registration, token: string, clientName: string) {
    return fetch(registration.uri, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        client_id: registration.clientId, client_name: clientName, redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none',
      }),
    });
  }

  it('of updates sent at once with one registration access token, exactly one writes and gets the next token (RFC 7592 §3)', async () => {
    const registration = await register('Raced');
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => update(registration, registration.token, `Raced ${i}`)));
    const statuses = replies.map((reply) => reply.status);
    expect(statuses.filter((status) => status === 200), statuses.join(',')).to.have.length(1);
    expect(statuses.filter((status) => status !== 200).every((status) => status === 401), statuses.join(',')).to.equal(true);
    const winner = replies[statuses.indexOf(200)]!;
    const body = await winner.json() as { client_name: string; registration_access_token: string };
    // The winner's write is what is stored, and only its new token manages the client.
    expect((await server.services.clients.show(registration.clientId)).name).to.equal(body.client_name);
    expect((await update(registration, registration.token, 'Late')).status).to.equal(401);
    expect((await update(registration, body.registration_access_token, 'Next')).status).to.equal(200);
  });

  it('an update racing an administrator’s delete never brings the client back', async () => {
    const registration = await register('Deleted while updated');
    let token = registration.token;
    let stop = false;
    const statuses: number[] = [];
    // One registrant updating as fast as it can, following each rotated token.
    const updating = (async () => {
      for (let i = 0; !stop; i += 1) {
        const reply = await update(registration, token, `Alive ${i}`);
        statuses.push(reply.status);
        if (reply.status === 200) token = ((await reply.json()) as { registration_access_token: string }).registration_access_token;
        else await reply.body?.cancel();
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.services.clients.delete(registration.clientId);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    stop = true;
    await updating;
    expect(statuses).to.include(200);
    expect(statuses.at(-1)).to.equal(401);
    expect(await server.services.clients.show(registration.clientId).then(() => 'found', (error: Error) => error.name)).to.equal('NotFoundError');
    expect(await server.services.provider.Client.find(registration.clientId)).to.equal(undefined);
  });

  it('a pushed authorization request answers one authorization, however many use its request_uri at once (RFC 9126 §7.3)', async () => {
    const { client, clientSecret } = await server.services.clients.create({
      name: 'PAR racer', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'],
    });
    const config = await discover(server, client.clientId, clientSecret);
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    const push = async () => oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    // Signed in and consented once, so a request_uri is answered with a code at once.
    let page = await browser.navigate((await push()).href);
    page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    expect(new URL(page.url).searchParams.get('code')).to.be.a('string');

    const pushed = (await push()).href;
    const answers = await Promise.all(Array.from({ length: 12 }, () => browser.request(pushed)));
    const codes = answers
      .map((answer) => answer.headers.get('location'))
      .filter((location): location is string => location !== null && location.startsWith(REDIRECT_URI) && new URL(location).searchParams.has('code'));
    expect(codes, answers.map((answer) => `${answer.status} ${answer.headers.get('location') ?? ''}`).join('\n')).to.have.length(1);
  });
});
