import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { consolePeople, consoleSignIn, lastAudit, postWithCsrf } from '../support/console.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/waiting.js';

// Keys sign as soon as they are made, so a rotation takes over at once.
const SETTINGS = { SIGNING_KEY_ACTIVATION_DELAY: '0' };

describe('signing out of a signed-in page ends the Gatehouse sign-in session on the server', () => {
  let server: TestServer;
  let people: Awaited<ReturnType<typeof consolePeople>>;

  before(async () => {
    server = await startTestServer(SETTINGS);
    people = await consolePeople(server, 'sign-out');
  });

  after(() => server?.stop());

  const publishedKids = async () => ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
  const sessionsOfAdmin = async () => (await server.services.sessions.ofAccount(people.admin.id)).map((session) => session.sessionUid);

  /** Signs in to the console; answers the browser, its page and the uid of the sign-in session it started. */
  async function signedInToConsole() {
    const before = await sessionsOfAdmin();
    const { browser, page } = await consoleSignIn(server, people.admin, '/admin');
    expect(page.status, page.html.slice(0, 300)).to.equal(200);
    const [uid] = (await sessionsOfAdmin()).filter((candidate) => !before.includes(candidate));
    expect(uid, 'the sign-in is listed').to.be.a('string');
    return { browser, page, uid: uid! };
  }

  it('after the key that signed the sign-in’s ID token is retired, sign-out still ends it: the next /admin visit asks for the password', async () => {
    const { browser, page, uid } = await signedInToConsole();
    // The key that signed this sign-in's ID token, replaced and retired (the
    // provider then refuses that ID token as an id_token_hint).
    const old = server.services.signingKid()!;
    await server.services.keys.rotate('RS256');
    await server.services.keys.retire(old, { force: true });
    await eventually(async () => !(await publishedKids()).includes(old));

    const signedOut = await postWithCsrf(browser, page, '/admin/logout', []);
    expect(signedOut.status, signedOut.html.slice(0, 300)).to.equal(200);
    expect(signedOut.url).to.equal(`${server.issuer}/admin/signed-out`);
    expect(signedOut.html).to.include('Signed out');
    expect(await sessionsOfAdmin(), 'no longer listed').not.to.include(uid);
    expect((await lastAudit(server, 'session.revoked', (detail) => detail.session === uid))?.actor).to.equal(`user:${people.admin.id}`);

    const again = await browser.navigate(`${server.issuer}/admin`);
    expect(again.html, 'the password form, not the console').to.include('name="password"').and.not.include('action="/admin/logout"');
  });

  it('ends it in the one request, without the provider’s confirmation page: a browser that stops there is signed out too', async () => {
    const { browser, page } = await signedInToConsole();
    const form = FormBrowser.forms(page).find((candidate) => candidate.action.endsWith('/admin/logout'))!;
    const answer = await browser.request(form.action, { method: 'POST', body: new URLSearchParams({ csrf: form.fields.csrf! }) });
    expect(answer.status).to.equal(303);
    expect(answer.headers.get('location')).to.equal('/admin/signed-out');
    const again = await browser.navigate(`${server.issuer}/account`);
    expect(again.html, 'every signed-in page asks for the password again').to.include('name="password"');
  });

  it('a sign-in the session index does not list is ended by the provider’s own logout, named by client_id rather than an ID token', async () => {
    const { browser, page, uid } = await signedInToConsole();
    // As if recording the sign-in had failed (it still signs in: indexSignIns).
    await server.services.sessions.ended(uid);
    const confirm = await postWithCsrf(browser, page, '/admin/logout', []);
    expect(new URL(confirm.url).pathname).to.equal('/session/end');
    expect(new URL(confirm.url).searchParams.get('client_id')).to.equal('gatehouse-dashboard');
    expect(new URL(confirm.url).searchParams.has('id_token_hint')).to.equal(false);
    expect(confirm.html).to.include('Sign out?');
    const signedOut = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    expect(signedOut.url).to.equal(`${server.issuer}/admin/signed-out`);
    const again = await browser.navigate(`${server.issuer}/admin`);
    expect(again.html).to.include('name="password"');
  });
});
