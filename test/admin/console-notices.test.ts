import { expect } from 'chai';
import type { FormBrowser } from '../support/form-browser.js';
import { consolePeople, consoleSignIn } from '../support/console.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('the notices of the console, the client pages and the account page', () => {
  let server: TestServer;
  let browser: FormBrowser;
  let userId: string;
  // What a phishing link would like a trusted page to say.
  const words = 'Your account is locked: call 555-0100 to restore it';

  before(async () => {
    server = await startTestServer();
    const { admin, user } = await consolePeople(server, 'notices');
    userId = (await server.services.accounts.show(user.username)).id;
    ({ browser } = await consoleSignIn(server, admin, '/admin'));
  });

  after(() => server?.stop());

  it('come from fixed keys only: no text of the URL reaches the page', async () => {
    const text = encodeURIComponent(words);
    const pages = [
      `/admin/users?deleted=${text}&done=${text}`,
      `/admin/users/${userId}?done=${text}&deleted=${text}`,
      `/admin/clients?deleted=${text}&done=${text}`,
      `/admin/scopes?done=${text}`,
      `/admin/sessions?done=${text}`,
      `/admin/resource-servers?done=${text}`,
      `/Lux/OAuth2/dashboard?deleted=${text}&done=${text}`,
      `/account?done=${text}&deleted=${text}`,
    ];
    for (const path of pages) {
      const page = await browser.navigate(`${server.issuer}${path}`);
      expect(page.status, path).to.equal(200);
      expect(page.html, path).to.not.include('555-0100').and.not.include('class="notice"');
    }
  });

  it('are chosen only by keys their tables hold: names every object inherits (constructor, __proto__, toString) choose none', async () => {
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      for (const path of [`/admin/users?done=${key}`, `/admin/users/${userId}?done=${key}`, `/admin/scopes?done=${key}`, `/admin/resource-servers?done=${key}`, `/admin/clients?done=${key}`, `/account?done=${key}`]) {
        const page = await browser.navigate(`${server.issuer}${path}`);
        expect(page.status, path).to.equal(200);
        expect(page.html, path).to.not.include('class="notice"').and.not.include('[native code]').and.not.include('[object Object]');
      }
    }
  });

  it('still say what was done, by their keys', async () => {
    expect((await browser.navigate(`${server.issuer}/admin/users?done=deleted`)).html).to.include('User deleted, with their grants and tokens.');
    expect((await browser.navigate(`${server.issuer}/admin/clients?done=deleted`)).html).to.include('Client deleted, with its grants and tokens.');
    expect((await browser.navigate(`${server.issuer}/Lux/OAuth2/dashboard?done=deleted`)).html, 'the Lux dashboard deletes nothing').to.not.include('deleted, with');
  });
});
