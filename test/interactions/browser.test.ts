import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { chromiumAvailable, launchChromium } from '../support/browser.js';
import { discover } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('login and consent in headless Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let config: oidc.Configuration;
  const user = { username: `fay-${Date.now()}`, password: 'typed into a real page' };
  // The relying party's callback: a real loopback listener (RFC 8252 §7.3).
  let rp: Server;
  let REDIRECT_URI: string;

  before(async function () {
    if (!chromiumAvailable()) throw new Error('Debian chromium is required for page tests: apt-get install chromium');
    server = await startTestServer();
    rp = createServer((_req, res) => { res.setHeader('content-type', 'text/html'); res.end('<p>callback</p>'); });
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
    REDIRECT_URI = `http://127.0.0.1:${(rp.address() as { port: number }).port}/callback`;
    const { client, clientSecret } = await server.services.clients.create({
      name: 'Photo Album', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid', 'profile'],
    });
    await server.services.accounts.create(user);
    config = await discover(server, client.clientId, clientSecret);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    rp?.close();
  });

  it('signs in, consents and lands on the client with a code and the same state, on a phone-sized screen', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 740 } });
    const page = await context.newPage();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid profile', state: 'state-123',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.getByRole('alert').textContent()).to.equal('Wrong username or password.');

    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    const noHorizontalScroll = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(noHorizontalScroll).to.equal(true);
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/consent.png`, fullPage: true });

    await Promise.all([page.waitForURL(`${REDIRECT_URI}**`), page.getByRole('button', { name: 'Allow' }).click()]);
    const callback = new URL(page.url());
    expect(callback.searchParams.get('state')).to.equal('state-123');
    expect(callback.searchParams.get('code')).to.be.a('string');
    expect(callback.searchParams.get('iss')).to.equal(server.issuer);
    await context.close();
  });
});
