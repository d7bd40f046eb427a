import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { FormBrowser } from '../support/form-browser.js';
import { checkPage, freshPagePerTest, signInWithChromium } from '../support/page-checks.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('the admin console’s Audit section (/admin/audit)', () => {
  let server: TestServer;
  let adminId: string;
  let browser: FormBrowser;
  const stamp = Date.now();
  const admin = { username: `audit-admin-${stamp}`, password: 'audit admin pw' };
  /** An actor only this file's own events carry. */
  const robot = `robot:${stamp}`;
  const audit = (query = '') => `${server.issuer}/admin/audit${query}`;

  before(async function () {
    // A server, fifty-five events and a sign-in.
    this.timeout(60_000);
    server = await startTestServer();
    adminId = (await server.services.accounts.create({ ...admin, roles: ['admin'] })).id;
    for (let i = 0; i < 55; i += 1) {
      // One at a time, so that each is newer than the one before.
      await server.services.audit.record({ event: i % 2 ? 'robot.odd' : 'robot.even', actor: robot, clientId: i === 3 ? `robot-client-${stamp}` : null, detail: { n: i } });
    }
    browser = new FormBrowser();
    await browser.submit(await browser.navigate(`${server.issuer}/admin`), '/login', admin);
  });

  after(() => server?.stop());

  describe('over HTTP, as a browser without JavaScript', () => {
    it('filters by actor and pages through the events fifty at a time, newest first', async () => {
      const first = await browser.navigate(audit(`?actor=${encodeURIComponent(robot)}`));
      expect(first.status).to.equal(200);
      expect(first.html).to.include('55 events · page 1 of 2');
      expect(first.html.match(/robot\.(odd|even)/g)).to.have.length(50);
      const next = /href="([^"]+)" rel="next"/.exec(first.html)![1]!.replaceAll('&amp;', '&');
      expect(next).to.equal(`/admin/audit?actor=${encodeURIComponent(robot)}&page=2`);
      const second = await browser.navigate(`${server.issuer}${next}`);
      expect(second.html.match(/robot\.(odd|even)/g)).to.have.length(5);
    });

    it('filters by action, by client and by time range', async () => {
      const odd = await browser.navigate(audit(`?actor=${encodeURIComponent(robot)}&action=robot.odd`));
      expect(odd.html).to.include('27 events').and.not.include('robot.even');
      const client = await browser.navigate(audit(`?client=robot-client-${stamp}`));
      expect(client.html).to.include('1 event · page 1 of 1');
      const future = await browser.navigate(audit(`?actor=${encodeURIComponent(robot)}&from=2999-01-01T00:00`));
      expect(future.html).to.include('No event matches these filters.');
      const past = await browser.navigate(audit(`?actor=${encodeURIComponent(robot)}&from=2000-01-01T00:00&to=2999-01-01T00:00`));
      expect(past.html).to.include('55 events');
    });

    it('says which filter field is wrong, next to it, and lists nothing', async () => {
      const bad = await browser.navigate(audit('?from=yesterday&to=2000-01-01T00:00'));
      expect(bad.status).to.equal(400);
      expect(bad.html).to.include('id="from-error" role="alert">is not a date and time').and.match(/id="from"[^>]*aria-invalid="true"/);
      const backwards = await browser.navigate(audit('?from=2020-01-02T00:00&to=2020-01-01T00:00'));
      expect(backwards.status).to.equal(400);
      expect(backwards.html).to.include('id="to-error" role="alert">must be after “From”');
      expect(backwards.html).to.include('Correct the filter to see events.');
    });

    it('says a From or Until in year 0000 is out of range, next to the field, rather than fail in the database', async () => {
      const from = await browser.navigate(audit('?from=0000-01-01T00:00'));
      expect(from.status, from.html.slice(0, 200)).to.equal(400);
      expect(from.html).to.include('id="from-error" role="alert">').and.match(/id="from"[^>]*aria-invalid="true"/);
      const until = await browser.navigate(audit('?to=0000-12-31T23:59'));
      expect(until.status, until.html.slice(0, 200)).to.equal(400);
      expect(until.html).to.include('id="to-error" role="alert">').and.match(/id="to"[^>]*aria-invalid="true"/);
      expect((await browser.request(audit('/export?from=0000-01-01T00:00'))).status, 'nor exports it').to.equal(400);
    });

    it('accepts an early From still in year 0001 or later (0001-01-01T00:00, 1900-01-01T00:00)', async () => {
      for (const from of ['0001-01-01T00:00', '1900-01-01T00:00']) {
        const reply = await browser.navigate(audit(`?actor=${encodeURIComponent(robot)}&from=${from}`));
        expect(reply.status, from).to.equal(200);
        expect(reply.html, from).to.include('55 events');
      }
    });

    it('shows one event in detail, and a missing one as not found', async () => {
      const list = await browser.navigate(audit(`?actor=${encodeURIComponent(robot)}&client=robot-client-${stamp}`));
      const link = /href="(\/admin\/audit\/\d+)"/.exec(list.html)![1]!;
      const detail = await browser.navigate(`${server.issuer}${link}`);
      expect(detail.status).to.equal(200);
      expect(detail.html).to.include('robot.odd').and.include(robot).and.include(`robot-client-${stamp}`).and.include('&quot;n&quot;: 3');
      expect((await browser.navigate(audit('/999999999'))).status).to.equal(404);
      expect((await browser.navigate(audit('/not-a-number'))).status).to.equal(404);
    });

    it('exports the same search as JSON lines, and records who exported it', async () => {
      const exported = await browser.request(audit(`/export?actor=${encodeURIComponent(robot)}&action=robot.even`));
      expect(exported.status).to.equal(200);
      expect(exported.headers.get('content-type')).to.match(/^application\/jsonl/);
      expect(exported.headers.get('content-disposition')).to.include('gatehouse-audit.jsonl');
      const lines = exported.html.trimEnd().split('\n').map((line) => JSON.parse(line) as { event: string; actor: string; at: string; detail: { n: number } });
      expect(lines).to.have.length(28);
      expect(lines.every((line) => line.event === 'robot.even' && line.actor === robot)).to.equal(true);
      expect(lines[0]!.at >= lines[27]!.at, 'newest first').to.equal(true);
      const { items } = await server.services.audit.search({ event: 'audit.exported', actor: `user:${adminId}` });
      expect(items).to.have.length(1);
      expect((await browser.request(audit('/export?from=nonsense'))).status, 'a bad filter exports nothing').to.equal(400);
    });

    it('refuses non-admins', async () => {
      const plain = { username: `audit-plain-${stamp}`, password: 'audit plain pw' };
      await server.services.accounts.create(plain);
      const theirs = new FormBrowser();
      const refused = await theirs.submit(await theirs.navigate(audit()), '/login', plain);
      expect(refused.status).to.equal(403);
      expect((await theirs.request(audit('/export'))).status).to.equal(403);
    });
  });

  describe('in headless Chromium, at 1280 and 375 px', function () {
    // Each page is screenshot and checked by axe-core at two widths: slower than a click.
    this.timeout(60_000);
    let page: Page;
    freshPagePerTest((opened) => { page = opened; });

    it('filters the trail, corrects a bad date, and opens an event', async () => {
      await signInWithChromium(page, audit(), admin);
      await page.getByRole('heading', { name: 'Audit', exact: true }).waitFor();
      await checkPage(page, 'audit-list');
      await page.getByLabel('Actor').fill(robot);
      await page.getByLabel('Action').fill('robot.odd');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('27 events · page 1 of 1').waitFor();
      await page.getByLabel('Until (UTC)').fill('2000-01-01T00:00');
      await page.getByLabel('From (UTC)').fill('2001-01-01T00:00');
      await page.keyboard.press('Enter');
      await page.locator('#to-error').waitFor();
      await checkPage(page, 'audit-filter-error');
      await page.getByRole('link', { name: 'Clear filters' }).click();
      await page.getByLabel('Client ID').fill(`robot-client-${stamp}`);
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('1 event · page 1 of 1').waitFor();
      await page.locator('table a').first().click();
      await page.getByRole('heading', { name: /Audit event \d+/ }).waitFor();
      await checkPage(page, 'audit-detail');
    });
  });
});
