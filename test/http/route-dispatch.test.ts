import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { expect } from 'chai';
import Koa from 'koa';
import { dispatchByFirstSegment } from '../../src/http/route-dispatch.js';

function router(prefix: string, path: string, answer: string): Router {
  const r = new Router(prefix ? { prefix } : {});
  r.post(path, (ctx) => { ctx.body = answer; });
  return r;
}

describe('route dispatch: each router is tried only for the first path segments it serves', () => {
  let base: string;
  let close: () => void;

  before(async () => {
    const app = new Koa();
    app.use(dispatchByFirstSegment([
      router('', '/api/whoami', 'whoami'),
      router('/lux', '/access_token/', 'lux'),
      router('', '/api/v1.1/oauth/token', 'los'),
      // A first segment that is a parameter can serve any path: tried for every request.
      router('', '/:tenant/hello', 'tenant'),
    ]));
    app.use((ctx) => { ctx.status = 404; ctx.body = 'fell through'; });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  after(() => close());

  const post = async (path: string) => {
    const reply = await fetch(base + path, { method: 'POST' });
    return `${reply.status} ${await reply.text()}`;
  };

  it('reaches routes behind other routers of the same segment, and routes under a prefix', async () => {
    expect(await post('/api/v1.1/oauth/token')).to.equal('200 los');
    expect(await post('/api/whoami')).to.equal('200 whoami');
    expect(await post('/lux/access_token/')).to.equal('200 lux');
  });

  it('matches case-insensitively, as the routers themselves do', async () => {
    expect(await post('/API/V1.1/OAuth/Token')).to.equal('200 los');
  });

  it('tries a router whose first segment is a parameter for any segment', async () => {
    expect(await post('/acme/hello')).to.equal('200 tenant');
    expect(await post('/api/hello')).to.equal('200 tenant');
  });

  it('hands unknown paths and unserved methods on', async () => {
    expect(await post('/nowhere')).to.equal('404 fell through');
    const reply = await fetch(`${base}/api/whoami`, { method: 'GET' });
    expect(reply.status, 'allowedMethods still answers for a served path').to.equal(405);
  });
});
