import { expect } from 'chai';
import { basicAuth, postForm, postJson, type Reply } from '../support/http.js';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { heapUsedBytes, rssKiB, spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { freePort, skipBecause, startTestServer, storageMode } from '../support/server.js';
import { FormBrowser } from '../support/form-browser.js';

// Short by default so the suite stays quick; SOAK_SECONDS=300 for a real soak.
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 20);
const WARM_UP_SECONDS = 4;
const WORKERS = 4;
// The stated bounds. RSS: the median resident set of each process over the
// last third of the soak may exceed its median over the first third by at
// most RSS_GROWTH_BOUND_MIB. RSS follows the V8 heap's high-water mark (a
// 150 s soak took one process from 188 to 249 MiB while its heap's lows after
// collection stayed at 38-40 MiB), so the sharper leak signal is the heap:
// its lowest reading over the last third may exceed its lowest over the first
// third by at most HEAP_FLOOR_GROWTH_BOUND_MIB. A leak raises that floor. In
// the default 20 s run a third may hold no full collection (a floor 20 MiB
// above the last was seen), hence the margin; longer soaks are sharper.
const RSS_GROWTH_BOUND_MIB = 128;
const HEAP_FLOOR_GROWTH_BOUND_MIB = 48;
const SAMPLE_MS = 1000;

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface Issued { token: string; auth: Record<string, string>; expiresAt: number; kind: string }

describe('faults: sustained load on two processes sharing storage', function () {
  this.timeout((SOAK_SECONDS + WARM_UP_SECONDS + 120) * 1000);
  const processes: GatehouseProcess[] = [];

  after(async () => {
    for (const gatehouse of processes) {
      gatehouse.child.kill('SIGKILL');
      await gatehouse.exited;
    }
  });

  it('serves mixed flows with zero 5xx, bounded memory growth, and every issued token active afterwards', async function () {
    if (!storageMode.postgres) skipBecause(this, 'two processes need a shared DATABASE_URL; the embedded database belongs to one process');
    const user = { username: `soak-${Date.now()}`, password: 'soak password' };
    const setup = await startTestServer();
    const rp = await setup.services.clients.create({
      name: `soak rp ${Date.now()}`, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'],
    });
    const cc = await setup.services.clients.create({ name: `soak cc ${Date.now()}`, grantTypes: ['client_credentials'], scope: ['read', 'write'] });
    const dot = await setup.services.clients.create({ name: `soak dot ${Date.now()}`, grantTypes: ['password', 'refresh_token'], scope: ['read', 'write'] });
    await setup.services.accounts.create(user);
    await setup.stop();
    const rpAuth = { authorization: basicAuth(rp.client.clientId, rp.clientSecret!) };
    const ccAuth = { authorization: basicAuth(cc.client.clientId, cc.clientSecret!) };
    const dotAuth = { authorization: basicAuth(dot.client.clientId, dot.clientSecret!) };

    // One issuer, as behind a load balancer; the first process creates nothing the second would race for.
    const portA = await freePort();
    const issuer = `http://localhost:${portA}`;
    processes.push(await spawnGatehouse({ PORT: String(portA), ISSUER: issuer }));
    processes.push(await spawnGatehouse({ PORT: String(await freePort()), ISSUER: issuer }));
    const [a, b] = processes as [GatehouseProcess, GatehouseProcess];
    // A process that dies mid-soak is a finding in itself; say so rather than fail on its missing /proc entry.
    const deaths: string[] = [];
    for (const gatehouse of processes) void gatehouse.exited.then((how) => deaths.push(`process ${gatehouse.pid} exited (${how})`));
    const config = await discover({ issuer }, rp.client.clientId, rp.clientSecret);

    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const issued: Issued[] = [];
    const liveRefreshTokens = new Map<string, Issued>();
    let turn = 0;
    const other = () => ((turn += 1) % 2 === 0 ? a : b);
    const count = (reply: Reply, what: string): Reply => {
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status >= 500) failures.push(`${what}: ${reply.status} ${reply.text.slice(0, 200)}`);
      return reply;
    };
    const keep = (reply: Reply, auth: Record<string, string>, kind: string, token = reply.json.access_token) => {
      if (reply.status !== 200) { failures.push(`${kind}: ${reply.status} ${reply.text.slice(0, 200)}`); return; }
      issued.push({ token: String(token), auth, expiresAt: Date.now() + Number(reply.json.expires_in ?? reply.json.data?.expires_in) * 1000, kind });
    };

    const flows: Array<() => Promise<void>> = [
      async () => {
        const reply = count(await postForm(`${other().url}/token`, { grant_type: 'client_credentials', scope: 'read' }, ccAuth), 'client_credentials');
        keep(reply, ccAuth, 'client_credentials');
      },
      async () => {
        const reply = count(await postJson(`${other().url}/api/v1.1/oauth/token`, {
          grant_type: 'client_credentials', client_id: cc.client.clientId, client_secret: cc.clientSecret, scope: '*',
        }), 'LOS');
        keep(reply, ccAuth, 'LOS', reply.json.data?.access_token);
      },
      async () => {
        // Authorized at one process, redeemed at the other, refreshed at either.
        const flow = await authorize(config, user, { scope: 'openid read', browser: new FormBrowser((next) => next.href.startsWith(REDIRECT_URI)) });
        const code = count(await postForm(`${b.url}/token`, {
          grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier,
        }, rpAuth), 'authorization_code');
        keep(code, rpAuth, 'authorization_code');
        const refreshed = count(await postForm(`${other().url}/token`, { grant_type: 'refresh_token', refresh_token: String(code.json.refresh_token) }, rpAuth), 'refresh_token');
        keep(refreshed, rpAuth, 'refresh_token');
        if (refreshed.status === 200) liveRefreshTokens.set(String(refreshed.json.refresh_token), { token: String(refreshed.json.refresh_token), auth: rpAuth, expiresAt: Infinity, kind: 'refresh token' });
      },
      async () => {
        const password = count(await postJson(`${other().url}/auth/oauth2/token/`, { grant_type: 'password', ...user }, dotAuth), 'DOT password');
        keep(password, dotAuth, 'DOT password');
        const refreshed = count(await postJson(`${other().url}/auth/oauth2/token/`, { grant_type: 'refresh_token', refresh_token: password.json.refresh_token }, dotAuth), 'DOT refresh');
        keep(refreshed, dotAuth, 'DOT refresh');
        if (refreshed.status === 200) liveRefreshTokens.set(String(refreshed.json.refresh_token), { token: String(refreshed.json.refresh_token), auth: dotAuth, expiresAt: Infinity, kind: 'refresh token' });
      },
      async () => {
        const recent = issued[issued.length - 1];
        if (!recent) return;
        const info = count(await postForm(`${other().url}/token/introspection`, { token: recent.token }, recent.auth), 'introspection');
        if (info.json.active !== true) failures.push(`introspection under load: ${recent.kind} inactive`);
      },
    ];

    const run = async (seconds: number) => {
      const until = Date.now() + seconds * 1000;
      await Promise.all(Array.from({ length: WORKERS }, async (_, worker) => {
        for (let i = worker; Date.now() < until; i += 1) {
          try {
            await flows[i % flows.length]!();
          } catch (error) {
            failures.push(`flow ${i % flows.length}: ${(error as Error).message}`);
          }
        }
      }));
    };

    await run(WARM_UP_SECONDS);
    const total = () => [...statuses.values()].reduce((sum, n) => sum + n, 0);
    const warmUpRequests = total();
    const rss: number[][] = processes.map(() => []);
    const heap: number[][] = processes.map(() => []);
    const sample = async () => {
      if (deaths.length) return;
      await Promise.all(processes.map(async (p, i) => {
        rss[i]!.push(await rssKiB(p.pid) / 1024);
        heap[i]!.push(await heapUsedBytes(p.url) / 2 ** 20);
      }));
    };
    await sample();
    const sampler = setInterval(() => { sample().catch(() => {}); }, SAMPLE_MS);
    const startedAt = Date.now();
    await run(SOAK_SECONDS);
    clearInterval(sampler);
    await sample();
    const elapsed = (Date.now() - startedAt) / 1000;
    const requests = total() - warmUpRequests;

    expect(deaths, 'both processes survived the soak').to.deep.equal([]);
    let checked = 0;
    let expired = 0;
    for (const [i, entry] of [...issued, ...liveRefreshTokens.values()].entries()) {
      if (entry.expiresAt <= Date.now()) { expired += 1; continue; }
      const info = await postForm(`${processes[i % 2]!.url}/token/introspection`, { token: entry.token }, entry.auth);
      if (info.json.active !== true) failures.push(`afterwards: ${entry.kind} inactive (${info.status} ${info.text.slice(0, 120)})`);
      checked += 1;
    }

    const third = (samples: number[], which: 'first' | 'last', of: (values: number[]) => number = median) => {
      const size = Math.max(1, Math.floor(samples.length / 3));
      return of(which === 'first' ? samples.slice(0, size) : samples.slice(-size));
    };
    const floor = (values: number[]) => Math.min(...values);
    const growthMiB = rss.map((samples) => third(samples, 'last') - third(samples, 'first'));
    const heapFloorGrowthMiB = heap.map((samples) => third(samples, 'last', floor) - third(samples, 'first', floor));
    // A last third with no full collection in it reads as growth (seen: 52
    // MiB in a 20 s run whose 45 s rerun was flat). What a leak holds
    // survives the collection an idle process gets seconds after allocation
    // stops (V8's memory reducer); garbage does not. So a floor past the
    // bound is read again while the process idles, and the lowest counts.
    for (const [i, p] of processes.entries()) {
      for (let second = 0; second < 20 && heapFloorGrowthMiB[i]! >= HEAP_FLOOR_GROWTH_BOUND_MIB; second += 1) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const idle = await heapUsedBytes(p.url) / 2 ** 20 - third(heap[i]!, 'first', floor);
        heapFloorGrowthMiB[i] = Math.min(heapFloorGrowthMiB[i]!, idle);
      }
    }
    const mib = (values: number[]) => values.map((v) => v.toFixed(1)).join('/');
    // The figures an operator would want from a soak, in the test's output.
    console.log(`      soak: ${elapsed.toFixed(1)} s, ${requests} token and introspection requests (${(requests / elapsed).toFixed(0)}/s) after ${warmUpRequests} to warm up, statuses ${JSON.stringify(Object.fromEntries(statuses))}; `
      + `RSS MiB first/last reading ${mib(rss.map((r) => r[0]!))} -> ${mib(rss.map((r) => r[r.length - 1]!))}, median first third ${mib(rss.map((r) => third(r, 'first')))} -> last third ${mib(rss.map((r) => third(r, 'last')))}, peak ${mib(rss.map((r) => Math.max(...r)))}; `
      + `heap used MiB lowest in first third ${mib(heap.map((h) => third(h, 'first', floor)))} -> last third ${mib(heap.map((h) => third(h, 'last', floor)))} (growth, idle reading included: ${heapFloorGrowthMiB.map((g) => g.toFixed(1)).join('/')}); `
      + `${checked} tokens introspected active afterwards, ${expired} past their lifetime`);
    expect(failures, failures.slice(0, 10).join('\n')).to.deep.equal([]);
    expect([...statuses.keys()].filter((status) => status >= 500)).to.deep.equal([]);
    expect(checked).to.be.above(WORKERS);
    for (const growth of growthMiB) expect(growth, `RSS growth ${growth.toFixed(1)} MiB`).to.be.below(RSS_GROWTH_BOUND_MIB);
    for (const growth of heapFloorGrowthMiB) expect(growth, `heap floor growth ${growth.toFixed(1)} MiB`).to.be.below(HEAP_FLOOR_GROWTH_BOUND_MIB);
  });
});
