import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import { basicAuth, postForm, postJson, type Reply } from '../support/http.js';
import { FormBrowser } from '../support/form-browser.js';
import { consoleSignIn } from '../support/console.js';
import { DASHBOARD_CLIENT_ID } from '../../src/clients/reserved-clients.js';
import { discover } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from '../support/waiting.js';
import * as oidc from 'openid-client';

const LIMITS = {
  TRUST_PROXY: 'true', CLIENT_FAILURE_LIMIT: '3', USER_FAILURE_LIMIT: '3', IP_FAILURE_LIMIT: '6', DISTRIBUTED_FAILURE_LIMIT: '4',
  MAX_BACKOFF: '2', FAILURE_WINDOW: '60',
};

const hex = () => randomInt(1, 0xffff).toString(16);
/**
 * A documentation network (RFC 3849) of its own, as a /64 (what the limits
 * count as one source): `at(n)` is its n-th address. Fresh for each use, so
 * counters never mix, even with a previous run's in Redis.
 */
const freshNetwork = () => {
  const prefix = `2001:db8:${hex()}:${hex()}`;
  return { at: (n: number) => `${prefix}::${(n + 1).toString(16)}` };
};
const freshIp = () => freshNetwork().at(0);
const waitFor = (seconds: number) => sleep(seconds * 1000 + 100);

describe('brute force and abuse: failed authentications are counted and backed off', () => {
  let server: TestServer;

  before(async () => { server = await startTestServer(LIMITS); });
  after(() => server.stop());

  async function newClient(grantTypes = ['client_credentials']) {
    const { client, clientSecret } = await server.services.clients.create({ name: `Target ${Date.now()}`, grantTypes, scope: ['read'] });
    return { id: client.clientId, secret: clientSecret! };
  }

  function expectThrottled(reply: Reply, label: string): number {
    expect(reply.status, `${label}: ${reply.text}`).to.equal(429);
    const retryAfter = Number(reply.headers.get('retry-after'));
    expect(retryAfter, `${label}: Retry-After`).to.be.within(1, 2);
    return retryAfter;
  }

  it('refuses an address past its limit on a client with 429 and Retry-After, even with the right secret, then lets it back in after the wait', async () => {
    const client = await newClient();
    const ip = freshIp();
    const attempt = (secret: string) => postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, secret), 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i += 1) expect((await attempt('wrong')).status).to.equal(401);
    const refused = await attempt(client.secret);
    const wait = expectThrottled(refused, 'right secret while backing off');
    expect(refused.json).to.include({ error: 'temporarily_unavailable' });
    await waitFor(wait);
    expect((await attempt(client.secret)).status, 'after the wait').to.equal(200);

    const events = await server.services.audit.list({ clientId: client.id });
    expect(events.items.map((e) => e.event)).to.include('rate_limit.engaged');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).to.match(/gatehouse_throttled_total\{subject="client"\} [1-9]/);
  });

  it('doubles the wait with each further failure, up to MAX_BACKOFF, and never counts refused attempts', async () => {
    const client = await newClient();
    const ip = freshIp();
    const attempt = (secret: string) => postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, secret), 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i += 1) await attempt('wrong');
    expect(Number((await attempt('wrong')).headers.get('retry-after'))).to.equal(1);
    // Refused attempts are not attempts: hammering during the wait changes nothing.
    for (let i = 0; i < 5; i += 1) expect((await attempt('wrong')).status).to.equal(429);
    await waitFor(1);
    expect((await attempt('wrong')).status, 'the fourth real failure').to.equal(401);
    expect(Number((await attempt('wrong')).headers.get('retry-after')), 'now 2 s').to.equal(2);
    await waitFor(2);
    expect((await attempt('wrong')).status).to.equal(401);
    expect(Number((await attempt('wrong')).headers.get('retry-after')), 'capped at MAX_BACKOFF').to.equal(2);
  });

  /** Every endpoint that authenticates clients, with the error shape of its throttled answer; `accept` is sent as Accept. */
  function clientAuthenticatingSurfaces(accept?: string): Array<{ name: string; send: (id: string, secret: string, ip: string) => Promise<Reply>; shape: (reply: Reply) => void }> {
    const headers = (ip: string, more: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...(accept ? { accept } : {}), ...more });
    return [
      { name: 'introspection', send: (id, secret, ip) => postForm(`${server.url}/token/introspection`, { token: 'x' }, headers(ip, { authorization: basicAuth(id, secret) })), shape: (r) => expect(r.json.error).to.equal('temporarily_unavailable') },
      { name: 'revocation', send: (id, secret, ip) => postForm(`${server.url}/token/revocation`, { token: 'x' }, headers(ip, { authorization: basicAuth(id, secret) })), shape: (r) => expect(r.json.error).to.equal('temporarily_unavailable') },
      { name: 'client_secret_basic at /token', send: (id, secret, ip) => postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, headers(ip, { authorization: basicAuth(id, secret) })), shape: (r) => expect(r.json.error).to.equal('temporarily_unavailable') },
      { name: 'client_secret_post at /token', send: (id, secret, ip) => postForm(`${server.url}/token`, { grant_type: 'client_credentials', client_id: id, client_secret: secret }, headers(ip)), shape: (r) => expect(r.json.error).to.equal('temporarily_unavailable') },
      { name: 'LOS', send: (id, secret, ip) => postJson(`${server.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: id, client_secret: secret, scope: '*' }, headers(ip)), shape: (r) => expect(r.json.meta).to.include({ responseCode: 429, success: false }) },
      { name: 'LE', send: (id, secret, ip) => postForm(`${server.url}/liveexpert/oauth/authorize`, { grant_type: 'client_credentials', client_id: id, client_secret: secret }, headers(ip)), shape: (r) => expect(r.json.error).to.equal('temporarily_unavailable') },
      { name: 'django-oauth-toolkit', send: (id, secret, ip) => postJson(`${server.url}/auth/oauth2/token/`, { grant_type: 'password', username: 'someone', password: 'something' }, headers(ip, { authorization: basicAuth(id, secret) })), shape: (r) => expect(r.json.error).to.equal('temporarily_unavailable') },
    ];
  }

  it('protects every endpoint that authenticates clients, in each dialect\'s own error shape', async () => {
    for (const c of clientAuthenticatingSurfaces()) {
      const client = await newClient();
      const ip = freshIp();
      for (let i = 0; i < 3; i += 1) expect((await c.send(client.id, 'wrong', ip)).status, `${c.name} failure ${i + 1}`).to.equal(401);
      const refused = await c.send(client.id, client.secret, ip);
      expectThrottled(refused, c.name);
      c.shape(refused);
    }
  });

  it('counts a failed client authentication whatever the request prefers (Accept: text/html), and answers it in JSON', async () => {
    for (const c of clientAuthenticatingSurfaces('text/html')) {
      const client = await newClient();
      const ip = freshIp();
      for (let i = 0; i < 3; i += 1) {
        const failed = await c.send(client.id, 'wrong', ip);
        expect(failed.status, `${c.name} failure ${i + 1}`).to.equal(401);
        expect(failed.headers.get('content-type'), `${c.name}: ${failed.text}`).to.match(/^application\/json/);
        expect(JSON.stringify(failed.json), c.name).to.match(/invalid_client/);
      }
      const refused = await c.send(client.id, client.secret, ip);
      expectThrottled(refused, c.name);
      c.shape(refused);
    }
  });

  it('counts a dialect\'s client_secret_post client by the client_id in the form it hands the provider, without reading the body again', async () => {
    const client = await newClient();
    const stored = (await server.services.storage.clients.find(client.id))!;
    await server.services.storage.clients.replace({ ...stored.metadata, token_endpoint_auth_method: 'client_secret_post' });
    const ip = freshIp();
    const attempt = (secret: string) => postJson(`${server.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: client.id, client_secret: secret, scope: '*' }, { 'x-forwarded-for': ip });
    expect((await attempt(client.secret)).status, 'the right secret, sent in the form').to.equal(200);
    for (let i = 0; i < 3; i += 1) expect((await attempt('wrong')).status, `failure ${i + 1}`).to.equal(401);
    const refused = await attempt(client.secret);
    expectThrottled(refused, 'LOS client_secret_post');
    expect(refused.json.meta).to.include({ responseCode: 429, success: false });
  });

  it('never locks the pages out through their own client: failures on it from many addresses leave every sign-in working', async () => {
    const admin = { username: `pages-${randomInt(1e9)}`, password: 'pages admin password' };
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    for (let i = 0; i < Number(LIMITS.DISTRIBUTED_FAILURE_LIMIT) + 2; i += 1) {
      const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(DASHBOARD_CLIENT_ID, 'guess'), 'x-forwarded-for': freshIp() });
      expect(reply.status, `failure from address ${i + 1}: ${reply.text}`).to.equal(401);
    }
    const { page } = await consoleSignIn(server, admin);
    expect(page.status, page.html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").slice(0, 600)).to.equal(200);
    expect(new URL(page.url).pathname).to.equal('/admin');
    // The attacker's failures on it still count against its address, which waits on every other client.
    const attacker = freshIp();
    for (let i = 0; i < Number(LIMITS.IP_FAILURE_LIMIT); i += 1) {
      await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(DASHBOARD_CLIENT_ID, 'guess'), 'x-forwarded-for': attacker });
    }
    const other = await newClient();
    expectThrottled(await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(other.id, other.secret), 'x-forwarded-for': attacker }), 'the failing address');
  });

  it('never locks a public client’s users out: failures on a client with no secret, from many addresses, leave its requests answered', async () => {
    const { client } = await server.services.clients.create({ name: `Public ${Date.now()}`, grantTypes: ['authorization_code'], redirectUris: ['https://spa.example.test/cb'], scope: ['openid'], public: true });
    const redeem = (ip: string, extra: Record<string, string> = {}) => postForm(`${server.url}/token`, {
      grant_type: 'authorization_code', client_id: client.clientId, code: 'no-such-code', redirect_uri: 'https://spa.example.test/cb', code_verifier: 'v'.repeat(43), ...extra,
    }, { 'x-forwarded-for': ip });
    for (let i = 0; i < Number(LIMITS.DISTRIBUTED_FAILURE_LIMIT) + 2; i += 1) {
      const reply = await redeem(freshIp(), { client_secret: 'guess' });
      expect(reply.status, `failure from address ${i + 1}: ${reply.text}`).to.equal(401);
    }
    const user = await redeem(freshIp());
    expect([user.status, user.json.error], 'a user of the client, from elsewhere').to.deep.equal([400, 'invalid_grant']);
    // From one address too: nothing to guess, so only the address's own limit applies.
    const one = freshIp();
    for (let i = 0; i < Number(LIMITS.CLIENT_FAILURE_LIMIT) + 1; i += 1) expect((await redeem(one, { client_secret: 'guess' })).status).to.equal(401);
    expect((await redeem(one)).status, 'the same address, below its own limit').to.equal(400);
  });

  it('never locks the pages out through the address the server calls itself from: failures from there leave every sign-in working', async () => {
    const admin = { username: `self-${randomInt(1e9)}`, password: 'pages admin password' };
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    // The server redeems its pages' codes from 127.0.0.1, as a proxy without TRUST_PROXY would make every caller.
    // One failure per client id, so that the address's own limit is the one reached.
    for (let i = 0; i < Number(LIMITS.IP_FAILURE_LIMIT) + 1; i += 1) {
      await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(`nobody-${randomInt(1e9)}`, 'guess'), 'x-forwarded-for': '127.0.0.1' });
    }
    const target = await newClient();
    expectThrottled(await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(target.id, target.secret), 'x-forwarded-for': '127.0.0.1' }), 'the address itself, on a client it never failed on');
    // The administrator signs in from an address of their own.
    const browser = new FormBrowser(undefined, { headers: { 'x-forwarded-for': freshIp() } });
    const page = await browser.submit(await browser.navigate(`${server.issuer}/admin`), '/login', admin);
    expect(page.status, page.html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 600)).to.equal(200);
    expect(new URL(page.url).pathname).to.equal('/admin');
  });

  it('counts failures per address across clients', async () => {
    const ip = freshIp();
    for (let i = 0; i < 6; i += 1) {
      const client = await newClient();
      expect((await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, 'wrong'), 'x-forwarded-for': ip })).status).to.equal(401);
    }
    const good = await newClient();
    expectThrottled(await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(good.id, good.secret), 'x-forwarded-for': ip }), 'a good client from that address');
    expect((await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(good.id, good.secret), 'x-forwarded-for': freshIp() })).status, 'from elsewhere').to.equal(200);
  });

  it('counts a client by the address its proxy saw: addresses it names itself in X-Forwarded-For do not make it many sources', async () => {
    const client = await newClient();
    const real = freshIp();
    const attempt = (secret: string, forwardedFor: string) => postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, secret), 'x-forwarded-for': forwardedFor });
    // The proxy (PROXY_HOPS=1) appends the address it saw to whatever the client sent.
    for (let i = 0; i < 3; i += 1) expect((await attempt('wrong', `${freshIp()}, ${real}`)).status).to.equal(401);
    expectThrottled(await attempt(client.secret, `${freshIp()}, ${real}`), 'the same client under yet another name');
    expect((await attempt(client.secret, `${real}, ${freshIp()}`)).status, 'someone else, who named the attacker\'s address').to.equal(200);
  });

  it('audits each limit on a client once, as it engages, with its scope and the address', async () => {
    const client = await newClient();
    const attacker = freshIp();
    const attempt = (ip: string) => postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, 'wrong'), 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i += 1) await attempt(attacker);
    for (let i = 0; i < 3; i += 1) await attempt(freshIp());
    const engaged = async () => (await server.services.audit.list({ clientId: client.id })).items
      .filter((e) => e.event === 'rate_limit.engaged')
      .map((e) => ({ scope: e.detail.scope, ip: e.ip }))
      .sort((a, b) => String(a.scope).localeCompare(String(b.scope)));
    const deadline = Date.now() + 3000;
    while ((await engaged()).length < 2 && Date.now() < deadline) await sleep(20); // audit records are written after the answer
    expect(await engaged()).to.deep.equal([
      { scope: 'address+subject', ip: `${attacker.replace(/::1$/, '')}::/64` },
      { scope: 'subject', ip: null },
    ]);
  });

  it('counts one source however its address is written', async () => {
    const octet = () => randomInt(1, 255);
    const v4 = `10.${octet()}.${octet()}.${octet()}`;
    const v6 = [hex(), hex()];
    const spellings: Array<[string, string[]]> = [
      ['IPv4 and IPv4-mapped IPv6', [v4, `::ffff:${v4}`, `::FFFF:${v4}`]],
      ['one IPv6 /64, compressed and in full', [`2001:db8:${v6[0]}:${v6[1]}::1`, `2001:0DB8:${v6[0]!.padStart(4, '0')}:${v6[1]!.padStart(4, '0')}:0:0:0:2`, `2001:db8:${v6[0]}:${v6[1]}:ffff:1:2:3`]],
    ];
    for (const [name, forms] of spellings) {
      const client = await newClient();
      const attempt = (secret: string, ip: string) => postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, secret), 'x-forwarded-for': ip });
      for (const form of forms) expect((await attempt('wrong', form)).status, `${name}: ${form}`).to.equal(401);
      expectThrottled(await attempt(client.secret, forms[0]!), `${name}: one source, three failures`);
      expect((await attempt(client.secret, freshIp())).status, `${name}: from elsewhere`).to.equal(200);
    }
  });

  it('backs off password grants for a username at the address that failed; a success there clears the count', async () => {
    const client = await newClient(['password']);
    const user = { username: `victim-${Date.now()}`, password: 'correct horse battery' };
    await server.services.accounts.create(user);
    const ip = freshIp();
    const grant = (password: string) => postForm(`${server.url}/token`, { grant_type: 'password', username: user.username, password, scope: 'read' }, { authorization: basicAuth(client.id, client.secret), 'x-forwarded-for': ip });
    for (let i = 0; i < 3; i += 1) expect((await grant('guess')).json.error).to.equal('invalid_grant');
    const wait = expectThrottled(await grant(user.password), 'the right password, from that address');
    await waitFor(wait);
    expect((await grant(user.password)).status).to.equal(200);
    for (let i = 0; i < 3; i += 1) expect((await grant('guess')).status, 'after a success the count starts again').to.equal(400);
  });

  it('gives a burst of client secret guesses sent at once no more checks than CLIENT_FAILURE_LIMIT, at every client-authenticating surface; right secrets at once all pass', async () => {
    for (const c of clientAuthenticatingSurfaces()) {
      const client = await newClient();
      const ip = freshIp();
      const burst = await Promise.all(Array.from({ length: 15 }, (_, i) => c.send(client.id, `guess ${i}`, ip)));
      const statuses = burst.map((reply) => reply.status);
      expect(statuses.filter((status) => status === 401).length, `${c.name}: checked guesses (${statuses.join(' ')})`).to.be.at.most(3);
      expect(statuses.filter((status) => status !== 401 && status !== 429), c.name).to.deep.equal([]);
      expectThrottled(await c.send(client.id, client.secret, ip), `${c.name}: the right secret after the burst`);
    }
    // Successes are not failures: one client's right secret sent many times at once is never held back.
    const busy = await newClient();
    const office = freshIp();
    const together = await Promise.all(Array.from({ length: 20 }, () => postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(busy.id, busy.secret), 'x-forwarded-for': office })));
    expect(together.map((reply) => reply.status), 'twenty at once').to.deep.equal(Array.from({ length: 20 }, () => 200));
  });

  it('gives a burst of password guesses sent at once no more checks than one at a time would get, per username and per address', async () => {
    const client = await newClient(['password']);
    const auth = { authorization: basicAuth(client.id, client.secret) };
    const users = await Promise.all(Array.from({ length: 4 }, async (_, i) => {
      const user = { username: `burst-${i}-${Date.now()}`, password: 'the burst password' };
      await server.services.accounts.create(user);
      return user;
    }));
    const grant = (username: string, password: string, ip: string) => postForm(`${server.url}/token`, { grant_type: 'password', username, password, scope: 'read' }, { ...auth, 'x-forwarded-for': ip });
    const checked = (replies: Reply[]) => replies.filter((reply) => reply.status !== 429);

    // One username, one address: 12 guesses at once, the right password among them.
    const ip = freshIp();
    const burst = await Promise.all([...Array.from({ length: 11 }, (_, i) => grant(users[0]!.username, `guess ${i}`, ip)), grant(users[0]!.username, users[0]!.password, ip)]);
    expect(checked(burst).length, 'checked against the password: USER_FAILURE_LIMIT, and one right one at most').to.be.at.most(4);
    for (const reply of burst.filter((r) => r.status === 429)) expectThrottled(reply, 'beside the allowed guesses');

    // Many usernames, one address: no more than IP_FAILURE_LIMIT (6) checked.
    const spray = freshIp();
    const sprayed = await Promise.all(users.slice(1).flatMap((user) => Array.from({ length: 3 }, (_, i) => grant(user.username, `spray ${i}`, spray))));
    expect(checked(sprayed).length).to.be.at.most(6);

    // Successes are not failures: many right passwords from one address, one after another or all at once, are never held back.
    const office = freshIp();
    for (let i = 0; i < 8; i += 1) expect((await grant(users[3]!.username, users[3]!.password, office)).status, `sign-in ${i + 1}`).to.equal(200);
    const together = await Promise.all(Array.from({ length: 12 }, () => grant(users[3]!.username, users[3]!.password, office)));
    expect(together.map((reply) => reply.status), 'twelve at once').to.deep.equal(Array.from({ length: 12 }, () => 200));
  });

  it('backs off the login page per address and username, with a 429 page that still lets the user try later', async () => {
    const user = { username: `page-${Date.now()}`, password: 'a page password' };
    await server.services.accounts.create(user);
    const { client, clientSecret } = await server.services.clients.create({ name: 'Page RP', grantTypes: ['authorization_code'], redirectUris: ['https://rp.example.test/callback'], scope: ['openid'] });
    const config = await discover(server, client.clientId, clientSecret);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'https://rp.example.test/callback', scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser((next) => next.href.startsWith('https://rp.example.test/'), { headers: { 'x-forwarded-for': freshIp() } });
    let page = await browser.navigate(url.href);
    for (let i = 0; i < 3; i += 1) {
      page = await browser.submit(page, '/login', { username: user.username, password: 'wrong' });
      expect(page.status).to.equal(401);
    }
    page = await browser.submit(page, '/login', user);
    expect(page.status).to.equal(429);
    expect(page.headers.get('retry-after')).to.match(/^[12]$/);
    expect(page.html).to.include('Too many failed attempts');
    await waitFor(Number(page.headers.get('retry-after')));
    page = await browser.submit(page, '/login', user);
    expect(page.status, page.html.slice(0, 300)).to.be.oneOf([200, 303]);
  });

  it('holds across processes: failures counted at one server make another refuse', async function () {
    if (!process.env.DATABASE_URL || !process.env.REDIS_URL) this.skip(); // the embedded database belongs to one process
    const other = await startTestServer(LIMITS);
    try {
      const client = await newClient();
      const ip = freshIp();
      const attempt = (at: TestServer, secret: string) => postForm(`${at.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, secret), 'x-forwarded-for': ip });
      expect((await attempt(other, client.secret)).status, 'the other server knows the client').to.equal(200);
      for (let i = 0; i < 3; i += 1) expect((await attempt(server, 'wrong')).status).to.equal(401);
      expectThrottled(await attempt(other, client.secret), 'at the other server');
    } finally {
      await other.stop();
    }
  });

  /** What became of one attempt at a secret. */
  type Outcome = { outcome: 'accepted' | 'refused' | 'throttled'; retryAfter: number };
  type Attempt = (ip: string, secret: 'right' | 'wrong') => Promise<Outcome>;

  function outcomeOf(status: number, accepted: number[], refused: number, headers: Headers, label: string): Outcome {
    const retryAfter = Number(headers.get('retry-after') ?? 0);
    if (status === 429) return { outcome: 'throttled', retryAfter };
    if (accepted.includes(status)) return { outcome: 'accepted', retryAfter };
    if (status === refused) return { outcome: 'refused', retryAfter };
    throw new Error(`${label}: unexpected ${status}`);
  }

  /** Every way a secret is checked, each with a fresh subject (a client or a user) to attack. */
  const surfaces: Array<{ name: string; target(): Promise<Attempt> }> = [
    {
      name: 'client secret at the token endpoint',
      async target() {
        const client = await newClient();
        return async (ip, secret) => {
          const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, secret === 'right' ? client.secret : 'wrong'), 'x-forwarded-for': ip });
          return outcomeOf(reply.status, [200], 401, reply.headers, reply.text);
        };
      },
    },
    {
      name: 'password grant',
      async target() {
        const client = await newClient(['password']);
        const user = { username: `grant-${randomInt(1e9)}`, password: 'correct horse battery' };
        await server.services.accounts.create(user);
        return async (ip, secret) => {
          const reply = await postForm(`${server.url}/token`, { grant_type: 'password', username: user.username, password: secret === 'right' ? user.password : 'guess', scope: 'read' }, { authorization: basicAuth(client.id, client.secret), 'x-forwarded-for': ip });
          return outcomeOf(reply.status, [200], 400, reply.headers, reply.text);
        };
      },
    },
    {
      name: 'login page',
      async target() {
        const user = { username: `page-${randomInt(1e9)}`, password: 'a page password' };
        await server.services.accounts.create(user);
        const { client, clientSecret } = await server.services.clients.create({ name: 'Page RP', grantTypes: ['authorization_code'], redirectUris: ['https://rp.example.test/callback'], scope: ['openid'] });
        const config = await discover(server, client.clientId, clientSecret);
        return async (ip, secret) => {
          const url = oidc.buildAuthorizationUrl(config, {
            redirect_uri: 'https://rp.example.test/callback', scope: 'openid',
            code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
          });
          const browser = new FormBrowser((next) => next.href.startsWith('https://rp.example.test/'), { headers: { 'x-forwarded-for': ip } });
          const page = await browser.submit(await browser.navigate(url.href), '/login', { username: user.username, password: secret === 'right' ? user.password : 'wrong' });
          return outcomeOf(page.status, [200, 303], 401, page.headers, page.html.slice(0, 300));
        };
      },
    },
  ];

  for (const surface of surfaces) {
    it(`${surface.name}: an address's failures, even one each time its wait lapses, from any address of its /64, never refuse the right secret from elsewhere`, async () => {
      const attempt = await surface.target();
      const attacker = freshNetwork();
      let n = 0;
      const victim = () => attempt(freshIp(), 'right');
      for (let i = 0; i < 3; i += 1) expect((await attempt(attacker.at(n++), 'wrong')).outcome, `failure ${i + 1}`).to.equal('refused');
      expect((await victim()).outcome, 'the right secret from elsewhere').to.equal('accepted');
      let held = await attempt(attacker.at(n++), 'right');
      expect(held.outcome, 'the attacker\'s network waits, whatever it sends').to.equal('throttled');
      // The pattern that held a subject locked for ever: one failure each time the wait lapses.
      for (let round = 0; round < 3; round += 1) {
        await waitFor(held.retryAfter);
        expect((await attempt(attacker.at(n++), 'wrong')).outcome, `lapse ${round + 1}: one more failure`).to.equal('refused');
        held = await attempt(attacker.at(n++), 'wrong');
        expect(held.outcome, `lapse ${round + 1}: the attacker waits again`).to.equal('throttled');
        expect((await victim()).outcome, `lapse ${round + 1}: the right secret from elsewhere`).to.equal('accepted');
      }
    });

    it(`${surface.name}: a distributed attack is still limited: from DISTRIBUTED_FAILURE_LIMIT failing addresses on, every address waits, the right secret too, longer with each failure`, async () => {
      const attempt = await surface.target();
      for (let i = 0; i < 3; i += 1) expect((await attempt(freshIp(), 'wrong')).outcome).to.equal('refused');
      expect((await attempt(freshIp(), 'right')).outcome, 'three failing addresses: below the limit').to.equal('accepted');
      expect((await attempt(freshIp(), 'wrong')).outcome, 'the fourth failing address').to.equal('refused');
      let held = await attempt(freshIp(), 'right');
      expect(held, 'a fresh address with the right secret').to.deep.equal({ outcome: 'throttled', retryAfter: 1 });
      await waitFor(held.retryAfter);
      expect((await attempt(freshIp(), 'wrong')).outcome, 'one guess once the wait lapses').to.equal('refused');
      held = await attempt(freshIp(), 'right');
      expect(held, 'the wait doubles').to.deep.equal({ outcome: 'throttled', retryAfter: 2 });
      await waitFor(held.retryAfter);
      expect((await attempt(freshIp(), 'right')).outcome, 'nobody is locked out for good').to.equal('accepted');
    });
  }
});
