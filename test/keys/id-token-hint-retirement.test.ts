import { expect } from 'chai';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { ValidationError } from '../../src/errors/app-error.js';
import { KEY_REFRESH_INTERVAL_MS } from '../../src/keys/signing-key-refresh.js';
import { runCli } from '../support/cli.js';
import { FormBrowser } from '../support/form-browser.js';
import { authorize, discover, redeem, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually, sleep } from '../support/waiting.js';

// Every token lives 1 s and a rotated key signs at once; sign-in sessions
// last SESSION_TTL's default, 14 days.
const TOKENS_ONE_SECOND = {
  SIGNING_KEY_ACTIVATION_DELAY: '0', ACCESS_TOKEN_TTL: '1', CLIENT_CREDENTIALS_TTL: '1', ID_TOKEN_TTL: '1',
  LOS_ACCESS_TOKEN_TTL: '1', LE_ACCESS_TOKEN_TTL: '1', DOT_ACCESS_TOKEN_TTL: '1',
};
const SESSION_TTL_SECONDS = 1_209_600;

describe('retiring a replaced signing key waits while an ID token it signed may still be presented as id_token_hint (RP-initiated logout)', () => {
  let server: TestServer;
  const stamp = Date.now();
  const user = { username: `hint-${stamp}`, password: 'id token hint pw' };

  before(async () => {
    server = await startTestServer(TOKENS_ONE_SECOND);
    await server.services.accounts.create(user);
  });

  after(() => server?.stop());

  const keyOf = async (kid: string) => (await server.services.keys.list()).find((key) => key.kid === kid)!;
  const publishedKids = async () => ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);

  /** A relying party's sign-in: its browser (signed in to Gatehouse) and the ID token it keeps. */
  async function relyingPartySignIn(): Promise<{ browser: FormBrowser; idToken: string }> {
    const { client, clientSecret } = await server.services.clients.create({
      name: `hint RP ${stamp}`, grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'],
    });
    const config = await discover(server, client.clientId, clientSecret);
    const flow = await authorize(config, user, { scope: 'openid' });
    const tokens = await redeem(config, flow);
    return { browser: flow.browser, idToken: tokens.id_token! };
  }

  const logoutWith = (browser: FormBrowser, idToken: string) => browser.navigate(`${server.url}/session/end?id_token_hint=${encodeURIComponent(idToken)}`);

  it('refuses the retirement, saying why and until when, though every token it signed has expired; once forced, the RP’s sign-out is refused', async () => {
    const { browser, idToken } = await relyingPartySignIn();
    const oldKid = decodeProtectedHeader(idToken).kid!;
    const successor = await server.services.keys.rotate(decodeProtectedHeader(idToken).alg);
    const signsFrom = Date.parse(successor.signsFrom);
    await sleep(Math.max(0, signsFrom + 1000 + KEY_REFRESH_INTERVAL_MS - Date.now(), decodeJwt(idToken).exp! * 1000 - Date.now()) + 200);

    // The ID token has expired, and the provider still takes it as the hint (RP-Initiated Logout 1.0 §2).
    expect(decodeJwt(idToken).exp! * 1000).to.be.below(Date.now());
    expect((await logoutWith(browser, idToken)).html, 'the expired hint is accepted').to.include('Sign out?');

    const replaced = await keyOf(oldKid);
    expect(replaced.state).to.equal('retiring');
    expect(Date.parse(replaced.retirableFrom!), 'held for a sign-in session’s lifetime').to.be.at.least(signsFrom + SESSION_TTL_SECONDS * 1000);
    const refused = await server.services.keys.retire(oldKid).then(() => undefined, (error: unknown) => error);
    expect(refused).to.be.instanceOf(ValidationError);
    expect((refused as ValidationError).message).to.include(`present as id_token_hint to sign their users out until ${replaced.retirableFrom}`).and.include('SESSION_TTL');
    expect((await keyOf(oldKid)).retired).to.equal(false);

    const cli = await runCli(server, 'keys', 'retire', oldKid);
    expect(cli.code, cli.stdout).not.to.equal(0);
    expect(cli.stderr + cli.stdout).to.include('id_token_hint').and.include('SESSION_TTL').and.include('--force');
    expect((await keyOf(oldKid)).retired).to.equal(false);

    // What the wait protects: with the key gone, the same sign-out is refused and the session stays.
    await server.services.keys.retire(oldKid, { force: true });
    await eventually(async () => !(await publishedKids()).includes(oldKid));
    const failed = await logoutWith(browser, idToken);
    expect(failed.status).to.equal(400);
  });

  it('holds keys of every algorithm so: the provider signs ID tokens with any algorithm it has a key for, a client’s choice', async () => {
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as { id_token_signing_alg_values_supported: string[] };
    expect(discovery.id_token_signing_alg_values_supported).to.include.members(['RS256', 'ES256', 'EdDSA']);
    for (const alg of ['ES256', 'EdDSA']) {
      const [old] = (await server.services.keys.list()).filter((key) => key.alg === alg && key.state === 'signing');
      const successor = await server.services.keys.rotate(alg);
      expect(Date.parse((await keyOf(old!.kid)).retirableFrom!), alg).to.be.at.least(Date.parse(successor.signsFrom) + SESSION_TTL_SECONDS * 1000);
      const refused = await server.services.keys.retire(old!.kid).then(() => undefined, (error: unknown) => error);
      expect((refused as ValidationError).message, alg).to.include('id_token_hint');
    }
  });
});
