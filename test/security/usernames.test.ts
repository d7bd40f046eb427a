import { randomInt } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { openEmbedded } from '../../adapters/embedded/pglite.js';
import { SqlAccountsStore } from '../../adapters/sql/accounts-store.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { migrations } from '../../adapters/sql/migrations.js';
import { hashPassword } from '../../src/accounts/passwords.js';
import { AccountService } from '../../src/accounts/service.js';
import { ConflictError, ValidationError } from '../../src/errors/app-error.js';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm } from '../support/http.js';
import { authorize, discover, redeem, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { embeddedDataDir } from '../support/embedded-data.js';

const hex = () => randomInt(1, 0xffff).toString(16);
const freshIp = () => `2001:db8:${hex()}:${hex()}::1`;

/** The fullwidth forms (U+FF01…) of printable ASCII: what an East Asian keyboard may type. */
const fullwidth = (text: string) => text.replace(/[\x21-\x7e]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

/**
 * Spellings of `username` (lower case, with an `i`): those that name the same
 * account under the one rule (src/accounts/usernames.ts), and look-alikes
 * that name none.
 */
function spellings(username: string) {
  return {
    same: {
      'upper case': username.toUpperCase(),
      'mixed case': username[0]!.toUpperCase() + username.slice(1),
      fullwidth: fullwidth(username),
      'fullwidth upper case': fullwidth(username.toUpperCase()),
    },
    other: {
      'capital I with dot above (U+0130)': username.replace('i', '\u0130'),
      'dotless i (U+0131)': username.replace('i', '\u0131'),
      'Cyrillic a (U+0430)': username.replace('a', '\u0430'),
    },
  };
}

describe('usernames: one rule for creation, sign-in and the brute-force counters', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ TRUST_PROXY: 'true', USER_FAILURE_LIMIT: '3', MAX_BACKOFF: '2', FAILURE_WINDOW: '60' });
  });
  after(() => server.stop());

  async function newUser() {
    const user = { username: `alice-${randomInt(1e9)}`, password: 'correct horse battery' };
    const account = await server.services.accounts.create(user);
    return { ...user, id: account.id };
  }

  async function passwordClient() {
    const { client, clientSecret } = await server.services.clients.create({ name: `Grant ${randomInt(1e9)}`, grantTypes: ['password'], scope: ['read'] });
    const auth = basicAuth(client.clientId, clientSecret!);
    return {
      grant: (username: string, password: string, ip: string) => postForm(`${server.url}/token`, { grant_type: 'password', username, password, scope: 'read' }, { authorization: auth, 'x-forwarded-for': ip }),
      subjectOf: async (token: string) => (await postForm(`${server.url}/token/introspection`, { token }, { authorization: auth })).json.sub,
    };
  }

  async function loginPage() {
    const { client, clientSecret } = await server.services.clients.create({ name: `Page ${randomInt(1e9)}`, grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
    const config = await discover(server, client.clientId, clientSecret);
    return {
      /** The login page's answer to these credentials from `ip`. */
      async submit(username: string, password: string, ip: string) {
        const url = oidc.buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI, scope: 'openid',
          code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
        });
        const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI), { headers: { 'x-forwarded-for': ip } });
        return browser.submit(await browser.navigate(url.href), '/login', { username, password });
      },
      /** Who the code flow signs in with these credentials. */
      async subjectOf(username: string, password: string) {
        const flow = await authorize(config, { username, password }, { scope: 'openid', browser: new FormBrowser((next) => next.href.startsWith(REDIRECT_URI), { headers: { 'x-forwarded-for': freshIp() } }) });
        return (await redeem(config, flow)).claims()?.sub;
      },
    };
  }

  it('password grant: spellings of the same username sign in as that account; look-alikes are refused', async () => {
    const user = await newUser();
    const { grant, subjectOf } = await passwordClient();
    const { same, other } = spellings(user.username);
    for (const [name, spelling] of Object.entries(same)) {
      const reply = await grant(spelling, user.password, freshIp());
      expect(reply.status, `${name}: ${reply.text}`).to.equal(200);
      expect(await subjectOf(String(reply.json.access_token)), name).to.equal(user.id);
    }
    for (const [name, spelling] of Object.entries(other)) {
      const reply = await grant(spelling, user.password, freshIp());
      expect(reply.status, name).to.equal(400);
      expect(reply.json.error, name).to.equal('invalid_grant');
    }
  });

  it('login page: spellings of the same username sign in as that account; look-alikes are refused', async () => {
    const user = await newUser();
    const page = await loginPage();
    const { same, other } = spellings(user.username);
    for (const [name, spelling] of Object.entries(same)) {
      expect(await page.subjectOf(spelling, user.password), name).to.equal(user.id);
    }
    for (const [name, spelling] of Object.entries(other)) {
      expect((await page.submit(spelling, user.password, freshIp())).status, name).to.equal(401);
    }
  });

  it('password grant: failures under any spelling that signs in as the account count against that account', async () => {
    const user = await newUser();
    const { grant } = await passwordClient();
    const ip = freshIp();
    const { same } = spellings(user.username);
    for (const spelling of [same.fullwidth, same['upper case'], same['fullwidth upper case']]) {
      expect((await grant(spelling, 'guess', ip)).status, spelling).to.equal(400);
    }
    const refused = await grant(user.username, user.password, ip);
    expect(refused.status, 'the third failure reached USER_FAILURE_LIMIT for this username').to.equal(429);
  });

  it('login page: failures under any spelling that signs in as the account count against that account', async () => {
    const user = await newUser();
    const page = await loginPage();
    const ip = freshIp();
    const { same } = spellings(user.username);
    for (const spelling of [same.fullwidth, same['mixed case'], same['fullwidth upper case']]) {
      expect((await page.submit(spelling, 'wrong', ip)).status, spelling).to.equal(401);
    }
    expect((await page.submit(user.username, user.password, ip)).status).to.equal(429);
  });

  it('creation refuses a username that names an existing account under another spelling, and one not typed in its plain letters', async () => {
    const user = await newUser();
    const create = async (username: string) => {
      try {
        await server.services.accounts.create({ username, password: 'another password' });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(await create(user.username.toUpperCase()), 'upper case').to.be.instanceOf(ConflictError);
    expect(await create(user.username[0]!.toUpperCase() + user.username.slice(1)), 'mixed case').to.be.instanceOf(ConflictError);
    expect(await create(fullwidth(user.username)), 'fullwidth').to.be.instanceOf(ValidationError);
    expect(await create(user.username.replace('i', '\u0130')), 'U+0130').to.be.instanceOf(ValidationError);
  });
});

describe('usernames: accounts created before the one rule', () => {
  it('are found by it after the migration, and keep their names unique under it', async () => {
    const dir = await embeddedDataDir();
    const db = await openEmbedded(dir, 'owner');
    try {
      // The schema as it was before usernames had a key, with an account in it.
      const before = migrations.findIndex((migration) => migration.id === '0008_username_key');
      await db.exec('CREATE TABLE schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const migration of migrations.slice(0, before)) {
        await db.exec(migration.sql);
        await db.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      }
      await db.query('INSERT INTO accounts (id, username, password_hash) VALUES ($1, $2, $3)', ['old-1', 'Carol.Smith', await hashPassword('an old password')]);

      await migrate(db);
      const accounts = new AccountService(new SqlAccountsStore(db));
      expect((await accounts.authenticate('CAROL.SMITH', 'an old password'))?.id).to.equal('old-1');
      expect((await accounts.authenticate(fullwidth('carol.smith'), 'an old password'))?.id).to.equal('old-1');
      let conflict: unknown;
      try { await accounts.create({ username: 'carol.smith', password: 'another password' }); } catch (error) { conflict = error; }
      expect(conflict).to.be.instanceOf(ConflictError);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
