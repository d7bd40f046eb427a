import { expect } from 'chai';
import { MAX_PAGE } from '../../src/paging/parameters.js';
import { adminApiHeaders } from '../support/admin.js';
import { runCli } from '../support/cli.js';
import { DASHBOARD, dashboardSignIn } from '../support/dashboard.js';
import type { FormBrowser } from '../support/form-browser.js';
import { send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Paging parameters as callers send them (a repeated parameter is a list),
 * and what the one paging rule (src/paging/parameters.ts) makes of them:
 * a malformed value is refused (400), a whole number out of range clamps.
 */
const VALUES: Array<{ raw: string | string[]; clampsTo?: 'max' | 1 }> = [
  { raw: '99999999999999999999', clampsTo: 'max' },
  { raw: '9'.repeat(400), clampsTo: 'max' },
  { raw: '-1', clampsTo: 1 },
  { raw: '-99999999999999999999', clampsTo: 1 },
  { raw: '0', clampsTo: 1 },
  { raw: 'abc' },
  { raw: '1.5' },
  { raw: '1e3' },
  { raw: '0x10' },
  { raw: ' 1' },
  { raw: '' },
  { raw: ['1', '2'] },
];

const query = (name: string, raw: string | string[]) => new URLSearchParams(([] as string[]).concat(raw).map((value) => [name, value])).toString();

describe('paging parameters: one rule on every paginated surface, never a 500', () => {
  let server: TestServer;
  let admin: Record<string, string>;
  let dashboard: FormBrowser;
  const stamp = Date.now();
  const dashboardAdmin = { username: `paging-admin-${stamp}`, password: 'paging admin password' };

  before(async () => {
    server = await startTestServer();
    admin = await adminApiHeaders(server, 'Paging admin job');
    await server.services.accounts.create({ ...dashboardAdmin, roles: ['admin'] });
    dashboard = await dashboardSignIn(server, dashboardAdmin);
  });

  after(() => server?.stop());

  describe('Northstar GET /v2/clients and /v2/audit (page, limit, per_page)', () => {
    const params: Array<{ name: string; max: number }> = [{ name: 'page', max: MAX_PAGE }, { name: 'limit', max: 100 }, { name: 'per_page', max: 100 }];
    for (const path of ['/v2/clients', '/v2/audit']) {
      for (const { name, max } of params) {
        it(`${path}?${name}=…: 400 in Northstar's shape for a malformed value, a clamped page otherwise`, async () => {
          for (const { raw, clampsTo } of VALUES) {
            const reply = await send(`${server.url}${path}?${query(name, raw)}`, { method: 'GET', headers: admin });
            const label = `${name}=${JSON.stringify(raw).slice(0, 40)}: ${reply.text.slice(0, 200)}`;
            if (clampsTo === undefined) {
              expect(reply.status, label).to.equal(400);
              expect(reply.json.error, label).to.deep.include({ code: 400 });
              expect((reply.json.error as { message: string }).message, label).to.include(name);
            } else {
              expect(reply.status, label).to.equal(200);
              const pagination = reply.json.meta!.pagination as Record<string, number>;
              expect(pagination[name === 'page' ? 'current_page' : 'per_page'], label).to.equal(clampsTo === 'max' ? max : 1);
            }
          }
        });
      }
    }

    it('refuses limit and per_page together rather than pick one', async () => {
      const reply = await send(`${server.url}/v2/clients?limit=5&per_page=10`, { method: 'GET', headers: admin });
      expect(reply.status).to.equal(400);
      expect(reply.json.error).to.deep.include({ code: 400 });
    });

    it('accepts per_page as limit’s alias (the field Northstar’s pagination meta names)', async () => {
      const reply = await send(`${server.url}/v2/clients?per_page=2`, { method: 'GET', headers: admin });
      expect(reply.json.meta!.pagination).to.include({ per_page: 2 });
    });
  });

  it('the dashboard client list: a 400 page for a malformed page, a clamped list otherwise', async () => {
    for (const { raw, clampsTo } of VALUES) {
      const page = await dashboard.request(`${server.issuer}${DASHBOARD}/?${query('page', raw)}`);
      const label = `page=${JSON.stringify(raw).slice(0, 40)}`;
      expect(page.status, label).to.equal(clampsTo === undefined ? 400 : 200);
      expect(page.headers.get('content-type'), label).to.match(/^text\/html/);
      if (clampsTo === undefined) expect(page.html, label).to.include('page must be a whole number');
    }
  });

  it('Lux query/ (which the Lux document gives no paging) ignores paging parameters rather than fail', async () => {
    for (const { raw } of VALUES) {
      for (const name of ['page', 'limit']) {
        const reply = await send(`${server.url}/Lux/OAuth2/query/?${query(name, raw)}`, { method: 'GET', headers: admin });
        expect(reply.status, `${name}=${JSON.stringify(raw).slice(0, 40)}`).to.equal(200);
        expect(reply.json.doc).to.be.an('array');
      }
    }
  });

  it('the CLI’s audit --limit: a whole number within 1…500 is honoured; anything else is a usage error (exit 2, invalid_usage), not clamped', async function () {
    this.timeout(180_000); // one CLI process per value, each opening the storage
    // A CLI flag given twice is parsed by node:util as its last value, so lists do not apply here.
    for (const { raw } of [...VALUES.filter((value) => typeof value.raw === 'string' && value.raw.length < 100), { raw: '3' }]) {
      const result = await runCli(server, 'audit', `--limit=${raw as string}`, '--json');
      const label = `--limit=${raw as string}: ${result.stderr.slice(0, 300)}`;
      const honoured = /^[0-9]+$/.test(raw as string) && Number(raw) >= 1 && Number(raw) <= 500;
      if (honoured) {
        expect(result.code, label).to.equal(0);
        expect((JSON.parse(result.stdout) as unknown[]).length, label).to.be.at.most(Number(raw));
      } else {
        expect(result.code, label).to.equal(2);
        expect(JSON.parse(result.stderr), label).to.include({ error: 'invalid_usage' });
      }
    }
  });
});
