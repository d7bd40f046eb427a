import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { FormBrowser, type Page } from '../support/form-browser.js';
import { postJson } from '../support/http.js';
import { discover, REDIRECT_URI } from '../support/oidc.js';
import { checkPage, newCheckedPage, requireChromium, signInWithChromium } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ATTACKER_CALLBACK = 'https://attacker.example/cb';
const UNVERIFIED = 'This application registered itself; Gatehouse has not verified it.';

/**
 * RFC 6749 §10.2, RFC 7591 §5, RFC 8628 §5.4: a client's name is its own
 * claim, so no page identifies a client by it alone. Beside it go the host
 * the browser returns to and, for a client that registered itself, a note
 * that Gatehouse has not verified it.
 */
describe('how pages identify a client: its name, where it returns you, and whether it registered itself', () => {
  let server: TestServer;
  let chromium: Browser;
  const stamp = Date.now();
  const user = { username: `ida-${stamp}`, password: 'who is asking, really' };
  const admin = { username: `ada-${stamp}`, password: 'administrator of things' };
  /** Registered by whoever held an initial access token (RFC 7591), pointing at a host of its choosing. */
  let selfRegistered: { clientId: string; clientSecret: string; config: oidc.Configuration };
  /** Registered by an administrator. */
  let adminMade: { clientId: string; config: oidc.Configuration };

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create(user);
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const registered = await postJson(`${server.url}/reg`, {
      client_name: 'Photo Album', redirect_uris: [ATTACKER_CALLBACK], scope: 'openid offline_access',
      grant_types: ['authorization_code', 'refresh_token'],
    }, { authorization: `Bearer ${token}` });
    expect(registered.status, registered.text).to.equal(201);
    const clientId = registered.json.client_id as string;
    const clientSecret = registered.json.client_secret as string;
    selfRegistered = { clientId, clientSecret, config: await discover(server, clientId, clientSecret) };
    const made = await server.services.clients.create({
      name: 'Staff Rota', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid', 'profile', 'admin'],
    });
    adminMade = { clientId: made.client.clientId, config: await discover(server, made.client.clientId, made.clientSecret) };
    chromium = await requireChromium();
  });

  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  async function authorizationUrl(config: oidc.Configuration, redirectUri: string, scope: string): Promise<string> {
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope, state: 'st', prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    }).href;
  }

  /** The text a reader sees: inline tags gone, block tags as a space, entities read, whitespace as one space. */
  const text = (page: Page) => page.html.replace(/<\/?(strong|span)\b[^>]*>/g, '').replace(/<[^>]+>/g, ' ').replace(/&#39;|&apos;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');

  it('names a self-registered client on the login and consent pages with the host it returns to and a note that Gatehouse has not verified it', async () => {
    const browser = new FormBrowser((next) => next.host === 'attacker.example');
    const login = await browser.navigate(await authorizationUrl(selfRegistered.config, ATTACKER_CALLBACK, 'openid offline_access'));
    expect(login.status).to.equal(200);
    for (const page of [login, await browser.submit(login, '/login', user)]) {
      expect(text(page)).to.include('Photo Album (returns you to attacker.example)');
      expect(text(page)).to.include(UNVERIFIED);
      expect(page.html).to.match(/<p class="unverified" role="note">/);
    }
  });

  it('shows an administrator-made client with the host it returns to and without the self-registered note', async () => {
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    const login = await browser.navigate(await authorizationUrl(adminMade.config, REDIRECT_URI, 'openid profile'));
    const consent = await browser.submit(login, '/login', user);
    expect(consent.html).to.include('Allow access?');
    for (const page of [login, consent]) {
      expect(text(page)).to.include('Staff Rota (returns you to rp.example.test)');
      expect(text(page)).not.to.include('registered itself');
    }
  });

  it('shows the self-registered note and the host in Chromium, where a person reads them (consent page)', async () => {
    const { context, page } = await newCheckedPage(chromium);
    try {
      await signInWithChromium(page, await authorizationUrl(selfRegistered.config, ATTACKER_CALLBACK, 'openid offline_access'), user);
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      const note = page.getByRole('note');
      expect(await note.isVisible()).to.equal(true);
      expect(await note.innerText()).to.include(UNVERIFIED).and.include('attacker.example');
      expect(await page.locator('p.lead').innerText()).to.equal('Photo Album (returns you to attacker.example) asks to:');
      await checkPage(page, 'consent-self-registered');
    } finally {
      await context.close();
    }
  });

  it('warns in words, per scope and above the buttons, when an application asks for a restricted (administrator) scope', async () => {
    const { context, page } = await newCheckedPage(chromium);
    try {
      await signInWithChromium(page, await authorizationUrl(adminMade.config, REDIRECT_URI, 'openid admin'), admin);
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      const adminScope = page.locator('ul.scopes li', { hasText: 'admin' });
      expect(await adminScope.locator('.scope-warning').innerText()).to.match(/^Administrator access: this lets the application act with administrator rights/);
      expect(await adminScope.locator('.scope-warning').isVisible()).to.equal(true);
      expect(await page.locator('ul.scopes li', { hasText: 'openid' }).locator('.scope-warning').count()).to.equal(0);
      const summary = page.getByRole('alert');
      expect(await summary.innerText()).to.include('This application asks for administrator access.');
      // The summary comes before the Allow button, where the decision is made.
      const [summaryBox, allowBox] = await Promise.all([summary.boundingBox(), page.getByRole('button', { name: 'Allow' }).boundingBox()]);
      expect(summaryBox!.y).to.be.below(allowBox!.y);
      await checkPage(page, 'consent-restricted-scope');
    } finally {
      await context.close();
    }
  });

  it('asks for no administrator access in words when no restricted scope is asked for', async () => {
    const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
    const consent = await browser.submit(await browser.navigate(await authorizationUrl(adminMade.config, REDIRECT_URI, 'openid profile')), '/login', user);
    expect(consent.html).to.include('Allow access?');
    expect(text(consent)).not.to.include('Administrator access');
    expect(text(consent)).not.to.include('asks for administrator access');
  });

  it('names a self-registered client on the device confirmation and device-connected pages as self-registered', async () => {
    // An administrator later gave the self-registered client the device flow: still nobody vouched for who runs it.
    await server.services.clients.update(selfRegistered.clientId, { grantTypes: ['authorization_code', 'refresh_token', DEVICE_GRANT] });
    const device = await oidc.initiateDeviceAuthorization(await discover(server, selfRegistered.clientId, selfRegistered.clientSecret), { scope: 'openid' });
    const browser = new FormBrowser();
    const input = await browser.navigate(device.verification_uri);
    const confirm = await browser.submit(input, '/device', { user_code: device.user_code });
    expect(confirm.html).to.include('Is this your device?');
    expect(text(confirm)).to.include('Photo Album (returns you to attacker.example) asks to connect to your account.');
    expect(text(confirm)).to.include(UNVERIFIED);
    const login = await browser.submit(confirm, '/device');
    const consent = await browser.submit(login, '/login', user);
    const done = await browser.submit(consent, '/confirm');
    expect(done.html).to.include('Device connected');
    expect(text(done)).to.include('Photo Album (attacker.example) registered itself, not verified by Gatehouse is now signed in.');
  });

  it('marks a self-registered client on the signed-out page, which anyone can link to with its client_id', async () => {
    const done = await new FormBrowser().navigate(`${server.issuer}/session/end/success?client_id=${encodeURIComponent(selfRegistered.clientId)}`);
    expect(done.status).to.equal(200);
    expect(text(done)).to.include('You have signed out of Photo Album (attacker.example) registered itself, not verified by Gatehouse.');
  });

  it('lists a self-registered application on the account page with its host and marked as registering itself', async () => {
    const browser = new FormBrowser((next) => next.host === 'attacker.example');
    const consent = await browser.submit(await browser.navigate(await authorizationUrl(selfRegistered.config, ATTACKER_CALLBACK, 'openid')), '/login', user);
    const back = await browser.submit(consent, '/confirm');
    expect(new URL(back.url).host).to.equal('attacker.example');
    const account = await browser.navigate(`${server.issuer}/account`);
    expect(account.status, account.html.slice(0, 300)).to.equal(200);
    const row = text(account).split('Applications with access to your account')[1] ?? '';
    expect(row).to.include('Photo Album (attacker.example) registered itself, not verified by Gatehouse');
  });
});
