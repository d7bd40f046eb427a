/**
 * `npm run bench`: Gatehouse against bare oidc-provider (and Koa hello-world)
 * in the same run, load from a separate autocannon process, rounds
 * alternated so machine drift cancels out, medians reported as ratios.
 *
 * Two scenarios send a different body with every request, which the
 * autocannon CLI cannot: authorization_code redemption (codes minted through
 * the login and consent pages before each run, a fixed number of requests,
 * one per code) and refresh rotation (each connection chains the refresh
 * token each response returns). bench/load-unique.ts runs autocannon
 * programmatically for them, again in a process of its own; bench/mint.ts
 * makes the codes and first refresh tokens.
 *
 * Environment: DATABASE_URL / REDIS_URL (else embedded storage),
 * BENCH_DURATION (s, default 10), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 50), BENCH_ONLY (comma-separated scenario names; a
 * comma followed by a space belongs to a name, as in "resource check, JWT"),
 * BENCH_CODES (codes per code-redemption run, default 300 per second of
 * BENCH_DURATION; the warm-up gets as many per second), BENCH_RESULTS_DIR
 * (default bench/results), BENCH_PROFILE_DIR (write CPU profiles of
 * Gatehouse and the baseline there, for `--cpu-prof` reading),
 * BENCH_GATEHOUSE_NODE_OPTIONS (NODE_OPTIONS for Gatehouse's processes only),
 * BENCH_WARM_UP (s of unmeasured load per scenario and side before the first
 * round, default 3; 0 for none).
 */
import { type ChildProcess } from 'node:child_process';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import type { UniqueLoad } from './load-unique.js';
import { cli, load as loadOnce, startGatehouseServer, startServer, type Load, type Request, type Sample, type Target } from './harness.js';
import { basic, mintCodes, mintRefreshTokens, redemptionBody, type CodeClient } from './mint.js';
import { hash, verify, Algorithm } from '@node-rs/argon2';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const CODES = Number(process.env.BENCH_CODES ?? 300 * DURATION);
const ONLY = process.env.BENCH_ONLY?.split(/,(?! )/).filter(Boolean);
const RESULTS = process.env.BENCH_RESULTS_DIR ?? 'bench/results';
const WARM_UP = Number(process.env.BENCH_WARM_UP ?? 3);

interface Scenario {
  name: string;
  gatehouse: Load;
  /** The request to the reference server, and which reference it is. */
  baseline?: { target: 'oidc-provider' | 'koa-hello'; request: Load };
  note?: string;
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const json = { 'content-type': 'application/json' };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianSample(samples: Sample[]): Sample {
  const pick = (key: keyof Sample) => median(samples.map((s) => s[key]));
  return { rps: pick('rps'), p50: pick('p50'), p99: pick('p99'), errors: samples.reduce((n, s) => n + s.errors, 0), non2xx: samples.reduce((n, s) => n + s.non2xx, 0), total: pick('total'),
    cpuMsPerReq: pick('cpuMsPerReq'), machineCpuMsPerReq: pick('machineCpuMsPerReq'), storageCpuMsPerReq: pick('storageCpuMsPerReq'), stealShare: pick('stealShare') };
}

/** RSA-2048 signatures per second on one core: the ceiling of RS256 JWT issuance. */
function rsaSignsPerSecond(): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const started = process.hrtime.bigint();
  let n = 0;
  while (Number(process.hrtime.bigint() - started) < 2e9) {
    createSign('RSA-SHA256').update(`payload ${n}`).sign(privateKey);
    n += 1;
  }
  return n / 2;
}

/** argon2id verifications per second on one core with Gatehouse's parameters: the ceiling of password logins. */
async function argon2VerifiesPerSecond(): Promise<number> {
  const stored = await hash('benchmark password', { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  const started = process.hrtime.bigint();
  let n = 0;
  while (Number(process.hrtime.bigint() - started) < 2e9) {
    await verify(stored, 'benchmark password');
    n += 1;
  }
  return n / 2;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gh-bench-'));
  const gatehouseEnv: Record<string, string> = {
    GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', WEB_CONCURRENCY: process.env.WEB_CONCURRENCY ?? '1',
    // More Node options for Gatehouse alone (beside the server's own, see startGatehouseServer; the baseline runs without), e.g. --max-semi-space-size=32.
    ...(process.env.BENCH_GATEHOUSE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEHOUSE_NODE_OPTIONS } : {}),
    // Codes are minted before a run and wait through it, as in the baseline.
    AUTHORIZATION_CODE_TTL: process.env.AUTHORIZATION_CODE_TTL ?? '600',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    // The documented figures are with prepared statements (docs/performance.md); BENCH_PREPARED_STATEMENTS=false to compare.
    DATABASE_PREPARED_STATEMENTS: process.env.BENCH_PREPARED_STATEMENTS ?? 'true',
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  };
  const [gPort, bPort, hPort] = [await freePort(), await freePort(), await freePort()];
  gatehouseEnv.ISSUER = `http://localhost:${gPort}`;
  const children: ChildProcess[] = [];
  try {
    const gatehouse = await startGatehouseServer(gatehouseEnv, gPort);
    children.push(gatehouse);
    const baseline = await startServer('dist/bench/baseline-server.js', {}, '/.well-known/openid-configuration', bPort);
    children.push(baseline);
    const hello = await startServer('dist/bench/hello-server.js', {}, '/', hPort);
    children.push(hello);
    const targets = {
      gatehouse: { name: 'gatehouse', url: `http://127.0.0.1:${gPort}`, pid: gatehouse.pid! },
      'oidc-provider': { name: 'oidc-provider', url: `http://127.0.0.1:${bPort}`, pid: baseline.pid! },
      'koa-hello': { name: 'koa-hello', url: `http://127.0.0.1:${hPort}`, pid: hello.pid! },
    };

    // Fixtures, made the way an operator would: with the CLI.
    const opaque = await cli(gatehouseEnv, 'client', 'create', '--name', 'bench opaque', '--grant-types', 'client_credentials', '--scope', 'read write');
    const jwt = await cli(gatehouseEnv, 'client', 'create', '--name', 'bench jwt', '--grant-types', 'client_credentials', '--scope', 'read write', '--token-format', 'jwt');
    // ES256 and EdDSA access tokens come from resource servers that ask for them.
    const stamp = Date.now();
    const es256Resource = `https://es256-${stamp}.bench.test/`;
    const eddsaResource = `https://eddsa-${stamp}.bench.test/`;
    await cli(gatehouseEnv, 'resource', 'add', '--uri', es256Resource, '--scope', 'read write', '--signing-alg', 'ES256');
    await cli(gatehouseEnv, 'resource', 'add', '--uri', eddsaResource, '--scope', 'read write', '--signing-alg', 'EdDSA');
    const dot = await cli(gatehouseEnv, 'client', 'create', '--name', 'bench dot', '--grant-types', 'password,refresh_token', '--scope', 'read write');
    // Unique per run: a shared database may already hold an earlier run's user.
    const username = `bench-user-${Date.now()}`;
    await cli(gatehouseEnv, 'user', 'create', '--username', username, '--password', 'benchmark password');
    const mint = async (target: Target, id: string, secret: string) => {
      const reply = await fetch(`${target.url}/token`, { method: 'POST', headers: { ...form, authorization: basic(id, secret) }, body: 'grant_type=client_credentials&scope=read' });
      return ((await reply.json()) as { access_token: string }).access_token;
    };
    const gOpaqueToken = await mint(targets.gatehouse, opaque.client_id!, opaque.client_secret!);
    const gJwtToken = await mint(targets.gatehouse, jwt.client_id!, jwt.client_secret!);
    const bOpaqueToken = await mint(targets['oidc-provider'], 'bench-opaque', 'bench-opaque-secret-0123456789abcdef');

    // The code flow: one confidential client of the same shape on both sides
    // (client_secret_basic, PKCE S256, opaque access tokens, openid).
    const redirectUri = 'http://127.0.0.1/cb';
    const code = await cli(gatehouseEnv, 'client', 'create', '--name', 'bench code', '--grant-types', 'authorization_code,refresh_token', '--redirect-uris', redirectUri, '--scope', 'openid offline_access');
    const user = { username, password: 'benchmark password' };
    const gCodeClient: CodeClient = { origin: targets.gatehouse.url, clientId: code.client_id!, clientSecret: code.client_secret!, redirectUri, user };
    const bCodeClient: CodeClient = { origin: targets['oidc-provider'].url, clientId: 'bench-code', clientSecret: 'bench-code-secret-0123456789abcdefghi', redirectUri, user };
    const tokenEndpoint = (client: CodeClient) => ({ url: `${client.origin}/token`, headers: { ...form, authorization: basic(client.clientId, client.clientSecret) }, connections: CONNECTIONS });
    const minted = (what: string, target: Target, started: number) => process.stderr.write(`minted ${what} at ${target.name} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    // Codes and refresh tokens are single-use: every run (warm-up included) gets its own.
    const redeemCodes = (client: CodeClient) => async (target: Target, seconds: number): Promise<UniqueLoad> => {
      const started = Date.now();
      const codes = await mintCodes(client, Math.max(1, Math.round((CODES * seconds) / DURATION)));
      minted(`${codes.length} codes`, target, started);
      return { kind: 'each', ...tokenEndpoint(client), bodies: codes.map((c) => redemptionBody(client, c)) };
    };
    const rotateRefreshTokens = (client: CodeClient) => async (target: Target, seconds: number): Promise<UniqueLoad> => {
      const started = Date.now();
      const refreshTokens = await mintRefreshTokens(client, CONNECTIONS);
      minted(`${refreshTokens.length} refresh tokens`, target, started);
      return { kind: 'chain', ...tokenEndpoint(client), duration: seconds, refreshTokens };
    };

    const cc = (id: string, secret: string, resource?: string): Request => ({
      method: 'POST', path: '/token', headers: { ...form, authorization: basic(id, secret) },
      body: `grant_type=client_credentials&scope=read${resource ? `&resource=${encodeURIComponent(resource)}` : ''}`,
    });
    const scenarios: Scenario[] = [
      { name: 'client_credentials opaque', gatehouse: cc(opaque.client_id!, opaque.client_secret!), baseline: { target: 'oidc-provider', request: cc('bench-opaque', 'bench-opaque-secret-0123456789abcdef') } },
      {
        name: 'LOS dialect (opaque)',
        gatehouse: { method: 'POST', path: '/api/v1.1/oauth/token', headers: json, body: JSON.stringify({ grant_type: 'client_credentials', client_id: opaque.client_id, client_secret: opaque.client_secret, scope: '*' }) },
        baseline: { target: 'oidc-provider', request: cc('bench-opaque', 'bench-opaque-secret-0123456789abcdef') },
      },
      {
        name: 'LE dialect (opaque)',
        gatehouse: { method: 'POST', path: '/liveexpert/oauth/authorize', headers: form, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: opaque.client_id!, client_secret: opaque.client_secret! }).toString() },
        baseline: { target: 'oidc-provider', request: cc('bench-opaque', 'bench-opaque-secret-0123456789abcdef') },
      },
      { name: 'client_credentials JWT RS256', gatehouse: cc(jwt.client_id!, jwt.client_secret!), baseline: { target: 'oidc-provider', request: cc('bench-jwt', 'bench-jwt-secret-0123456789abcdefghij') } },
      { name: 'client_credentials JWT ES256', gatehouse: cc(opaque.client_id!, opaque.client_secret!, es256Resource), baseline: { target: 'oidc-provider', request: cc('bench-opaque', 'bench-opaque-secret-0123456789abcdef', 'urn:bench:es256') } },
      { name: 'client_credentials JWT EdDSA', gatehouse: cc(opaque.client_id!, opaque.client_secret!, eddsaResource), baseline: { target: 'oidc-provider', request: cc('bench-opaque', 'bench-opaque-secret-0123456789abcdef', 'urn:bench:eddsa') } },
      {
        name: 'introspection (opaque)',
        gatehouse: { method: 'POST', path: '/token/introspection', headers: { ...form, authorization: basic(opaque.client_id!, opaque.client_secret!) }, body: `token=${gOpaqueToken}` },
        baseline: { target: 'oidc-provider', request: { method: 'POST', path: '/token/introspection', headers: { ...form, authorization: basic('bench-opaque', 'bench-opaque-secret-0123456789abcdef') }, body: `token=${bOpaqueToken}` } },
      },
      {
        name: 'authorization_code redemption',
        gatehouse: redeemCodes(gCodeClient),
        baseline: { target: 'oidc-provider', request: redeemCodes(bCodeClient) },
        note: `${CODES} pre-minted codes per run, one request each: a fixed number of requests (autocannon amount), not BENCH_DURATION; each answer is an opaque access token, an RS256 ID token and a refresh token on both sides`,
      },
      {
        name: 'refresh rotation',
        gatehouse: rotateRefreshTokens(gCodeClient),
        baseline: { target: 'oidc-provider', request: rotateRefreshTokens(bCodeClient) },
        note: 'each connection sends the refresh token its previous answer returned (offline_access, one grant per connection); each answer is a new refresh token, an opaque access token and an RS256 ID token on both sides',
      },
      { name: 'resource check, opaque', gatehouse: { method: 'GET', path: '/api/whoami', headers: { authorization: `Bearer ${gOpaqueToken}` } }, baseline: { target: 'koa-hello', request: { method: 'GET', path: '/', headers: {} } } },
      { name: 'resource check, JWT', gatehouse: { method: 'GET', path: '/api/whoami', headers: { authorization: `Bearer ${gJwtToken}` } }, baseline: { target: 'koa-hello', request: { method: 'GET', path: '/', headers: {} } } },
      {
        name: 'DOT password grant',
        gatehouse: { method: 'POST', path: '/auth/oauth2/token/', headers: { ...json, authorization: basic(dot.client_id!, dot.client_secret!) }, body: JSON.stringify({ grant_type: 'password', username, password: 'benchmark password' }) },
        note: 'argon2-bound: compare with the argon2id verifications/s ceiling',
      },
    ].filter((s) => !ONLY || ONLY.includes(s.name)) as Scenario[];

    const load = (target: Target, request: Load, scratch: string) => loadOnce(target, request, scratch, { connections: CONNECTIONS, duration: DURATION });
    // A server's first seconds on a path run unoptimised code while V8 compiles
    // it, and the two sides do not pay that alike: without a warm-up the first
    // round measured it (and a median of two rounds is half that round).
    // Requests that must each differ (codes, refresh chains) get their own for
    // the warm-up: unwarmed, V8 was still compiling the refresh path 8 s into
    // a 20 s round (10 % of the server's CPU samples, `perf record`).
    if (WARM_UP > 0) {
      for (const scenario of scenarios) {
        const warm = (target: Target, request: Load) => loadOnce(target, request, dataDir, { connections: CONNECTIONS, duration: WARM_UP });
        await warm(targets.gatehouse, scenario.gatehouse);
        if (scenario.baseline) await warm(targets[scenario.baseline.target], scenario.baseline.request);
      }
      process.stderr.write(`warmed up for ${WARM_UP} s per scenario and side\n`);
    }
    const results: Record<string, { gatehouse: Sample[]; baseline: Sample[] }> = {};
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const scenario of scenarios) {
        const entry = (results[scenario.name] ??= { gatehouse: [], baseline: [] });
        const runGatehouse = async () => entry.gatehouse.push(await load(targets.gatehouse, scenario.gatehouse, dataDir));
        const runBaseline = async () => { if (scenario.baseline) entry.baseline.push(await load(targets[scenario.baseline.target], scenario.baseline.request, dataDir)); };
        // Alternate which goes first, so drift within a round cancels out.
        if (round % 2) { await runBaseline(); await runGatehouse(); } else { await runGatehouse(); await runBaseline(); }
        process.stderr.write(`round ${round}/${ROUNDS}: ${scenario.name}\n`);
      }
    }

    const rsa = rsaSignsPerSecond();
    const argon2 = await argon2VerifiesPerSecond();
    const standard = medianSample(results['client_credentials opaque']?.gatehouse ?? []);
    const rows = scenarios.map((scenario) => {
      const g = medianSample(results[scenario.name]!.gatehouse);
      const b = scenario.baseline ? medianSample(results[scenario.name]!.baseline) : undefined;
      let ratio: string;
      if (b) ratio = `${(g.rps / b.rps).toFixed(2)}× ${scenario.baseline!.target}`;
      else if (scenario.name === 'DOT password grant') ratio = `${(g.rps / argon2).toFixed(2)}× argon2 ceiling`;
      else ratio = '—';
      const extra = scenario.name.includes('dialect') && standard.rps ? ` (${(g.rps / standard.rps).toFixed(2)}× standard)` : scenario.name.includes('RS256') ? ` (${(g.rps / rsa).toFixed(2)}× RSA sign ceiling)` : '';
      // Each round's Gatehouse run against the reference run beside it: how far one run's ratio can be trusted.
      const { gatehouse: gs, baseline: bs } = results[scenario.name]!;
      const roundRatios = b ? gs.map((sample, i) => Number((sample.rps / (bs[i]?.rps ?? Number.NaN)).toFixed(2))) : undefined;
      return { scenario: scenario.name, gatehouse: g, baseline: b, ratio: ratio + extra, roundRatios, baselineTarget: scenario.baseline?.target, note: scenario.note };
    });

    const machine = { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
    const storage = process.env.DATABASE_URL ? `PostgreSQL${process.env.REDIS_URL ? ' + Redis' : ''}` : 'embedded PGlite';
    const gatehouseNodeOptions = process.env.BENCH_GATEHOUSE_NODE_OPTIONS || undefined;
    const report = { at: new Date().toISOString(), machine, storage, gatehouseNodeOptions, durationSeconds: DURATION, warmUpSeconds: WARM_UP, rounds: ROUNDS, connections: CONNECTIONS, ceilings: { rsaSignsPerSecond: Math.round(rsa), argon2VerifiesPerSecond: Math.round(argon2) }, rows };
    await mkdir(RESULTS, { recursive: true });
    const file = join(RESULTS, `${report.at.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);

    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    const out = [
      `Gatehouse benchmark — ${storage}, ${machine.cpus} cores (${machine.model}), Node ${machine.node}${gatehouseNodeOptions ? ` (Gatehouse with ${gatehouseNodeOptions})` : ''}; autocannon -c ${CONNECTIONS} -d ${DURATION}, median of ${ROUNDS} alternated rounds after ${WARM_UP} s of warm-up`,
      `Ceilings measured in this run: RSA-2048 signs ${Math.round(rsa)}/s, argon2id verifies ${Math.round(argon2)}/s (one core)`,
      '',
      line(['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'CPU ms/req', 'machine CPU ms/req (storage)', 'reference req/s', 'reference CPU ms/req', 'reference machine CPU ms/req', 'ratio', 'rounds\' ratios', 'steal']),
      line(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---', '---:']),
      ...rows.map((r) => line([r.scenario, r.gatehouse.rps.toFixed(0), String(r.gatehouse.p50), String(r.gatehouse.p99), String(r.gatehouse.errors + r.gatehouse.non2xx),
        r.gatehouse.cpuMsPerReq.toFixed(3), `${r.gatehouse.machineCpuMsPerReq.toFixed(3)} (${r.gatehouse.storageCpuMsPerReq.toFixed(3)})`,
        r.baseline ? `${r.baseline.rps.toFixed(0)} (${r.baselineTarget}${r.baseline.errors + r.baseline.non2xx ? `, ${r.baseline.errors + r.baseline.non2xx} errors` : ''})` : '—',
        r.baseline ? r.baseline.cpuMsPerReq.toFixed(3) : '—', r.baseline ? r.baseline.machineCpuMsPerReq.toFixed(3) : '—',
        r.ratio, r.roundRatios ? `${Math.min(...r.roundRatios).toFixed(2)}–${Math.max(...r.roundRatios).toFixed(2)}` : '—', `${Math.round(100 * Math.max(r.gatehouse.stealShare, r.baseline?.stealShare ?? 0))} %`])),
      '',
      'CPU ms/req: the server process alone. machine CPU ms/req: every process on the machine per request (server, load generator, PostgreSQL, Redis); in brackets, PostgreSQL\'s and Redis\'s share. Where the machine is the limit, a ratio cannot exceed reference machine CPU ÷ machine CPU.',
      'rounds\' ratios: the lowest and highest of the rounds\' own ratios (each round\'s Gatehouse run against the reference run beside it); a target inside that range is not settled by this run.',
      'steal: the share of the machine\'s CPU time the hypervisor gave to other guests during the run (median of rounds, the larger of the two sides); above a few per cent, throughput and ratios are unreliable.',
      ...(rows.some((r) => r.note) ? ['', ...rows.filter((r) => r.note).map((r) => `- ${r.scenario}: ${r.note}`)] : []),
    ];
    process.stdout.write(`${out.join('\n')}\n\nWritten to ${file}\n`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
