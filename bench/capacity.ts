/**
 * `npm run bench:capacity`: the figures an operator sizes a deployment with,
 * measured on this machine over PostgreSQL and Redis (DATABASE_URL and
 * REDIS_URL are required; SECRETS_KEY too, as for any server database):
 *
 * - per flow (client_credentials, code redemption, refresh rotation,
 *   introspection): requests per second of one process, and its CPU time
 *   per request, hence requests per second per core;
 * - Redis bytes per live access token (MEMORY USAGE of every key under this
 *   run's own REDIS_PREFIX, so other users of the server do not count; the
 *   server-wide INFO used_memory delta is printed beside it);
 * - PostgreSQL rows and bytes per grant (authorization code with
 *   offline_access, redeemed: the grant, its refresh token, audit events);
 * - PostgreSQL and Redis connections per process, under load;
 * - a mixed load (bench/load-mixed.ts) for BENCH_MIXED_DURATION seconds on
 *   one process, then on three, with the error count.
 *
 * Environment: BENCH_DURATION (s per flow, default 10), BENCH_MIXED_DURATION
 * (default 60), BENCH_CONNECTIONS (default 20), BENCH_TOKENS (default 2000),
 * BENCH_GRANTS (default 200), BENCH_PORT (the first of three consecutive
 * ports for the nodes; default any free ports), BENCH_RESULTS_DIR.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from './free-port.js';
import { cli, cpuTicks, load, startGatehouseServer, type Request, type Sample, type Target } from './harness.js';
import type { MixedLoad } from './load-mixed.js';
import { basic, mintCodes, mintRefreshTokens, redemptionBody, type CodeClient } from './mint.js';

const run = promisify(execFile);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const MIXED_DURATION = Number(process.env.BENCH_MIXED_DURATION ?? 60);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 2000);
const GRANTS = Number(process.env.BENCH_GRANTS ?? 200);
const RESULTS = process.env.BENCH_RESULTS_DIR ?? 'bench/results';
const form = { 'content-type': 'application/x-www-form-urlencoded' };

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) {
  process.stderr.write('bench:capacity measures PostgreSQL and Redis: set DATABASE_URL and REDIS_URL (and SECRETS_KEY)\n');
  process.exit(2);
}

/** Established TCP connections of process `pid` to each of `ports` (ss -tnp). */
async function connectionsOf(pid: number, ports: Record<string, number>): Promise<Record<string, number>> {
  const { stdout } = await run('ss', ['-tnpH', 'state', 'established']);
  const mine = stdout.split('\n').filter((line) => line.includes(`pid=${pid},`));
  return Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, mine.filter((line) => line.trim().split(/\s+/)[3]?.endsWith(`:${port}`)).length]));
}

/** Bytes Redis reports for every key under `prefix`, and how many keys. */
async function redisBytes(redis: Redis, prefix: string): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      keys += 1;
      bytes += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') ?? 0);
    }
  } while (cursor !== '0');
  return { keys, bytes };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

/** Rows and bytes (table, indexes, TOAST) of every Gatehouse table. */
async function tableSizes(db: pg.Client): Promise<Map<string, { rows: number; bytes: number }>> {
  const { rows: tables } = await db.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'");
  const sizes = new Map<string, { rows: number; bytes: number }>();
  for (const { name } of tables) {
    const { rows: [row] } = await db.query<{ rows: string; bytes: string }>(`SELECT count(*) AS rows, pg_total_relation_size('public.${name}') AS bytes FROM public.${name}`);
    sizes.set(name, { rows: Number(row!.rows), bytes: Number(row!.bytes) });
  }
  return sizes;
}

async function inParallel<T>(count: number, lanes: number, task: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  await Promise.all(Array.from({ length: lanes }, async () => { while (out.length < count) out.push(await task()); }));
  return out.slice(0, count);
}

async function main(): Promise<void> {
  const stamp = Date.now();
  const dataDir = await mkdtemp(join(tmpdir(), 'gh-capacity-'));
  // Its own key namespace, so that Redis bytes are this run's alone.
  const prefix = `gh-capacity-${stamp}:`;
  const base = process.env.BENCH_PORT ? Number(process.env.BENCH_PORT) : undefined;
  const ports = base ? [base, base + 1, base + 2] : [await freePort(), await freePort(), await freePort()];
  const issuer = `http://localhost:${ports[0]}`;
  const env: Record<string, string> = { GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', WEB_CONCURRENCY: '1', REDIS_PREFIX: prefix, ISSUER: issuer, AUTHORIZATION_CODE_TTL: '600' };
  const children: ChildProcess[] = [];
  const redis = new Redis(redisUrl!);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const first = await startGatehouseServer(env, ports[0]!);
    children.push(first);
    const node = (port: number, child: ChildProcess): Target => ({ name: `node ${port}`, url: `http://127.0.0.1:${port}`, pid: child.pid! });
    const one = node(ports[0]!, first);

    const cc = await cli(env, 'client', 'create', '--name', `capacity cc ${stamp}`, '--grant-types', 'client_credentials', '--scope', 'read');
    const rp = await cli(env, 'client', 'create', '--name', `capacity rp ${stamp}`, '--grant-types', 'authorization_code,refresh_token,client_credentials',
      '--redirect-uris', 'http://127.0.0.1/cb', '--scope', 'openid offline_access read');
    const user = { username: `capacity-${stamp}`, password: 'capacity password' };
    await cli(env, 'user', 'create', '--username', user.username, '--password', user.password);
    const codeClient = (origin: string): CodeClient => ({ origin, clientId: rp.client_id!, clientSecret: rp.client_secret!, redirectUri: 'http://127.0.0.1/cb', user });
    const ccRequest: Request = { method: 'POST', path: '/token', headers: { ...form, authorization: basic(cc.client_id!, cc.client_secret!) }, body: 'grant_type=client_credentials&scope=read' };
    const mintToken = async (url: string) => {
      const reply = await fetch(`${url}/token`, { method: 'POST', headers: ccRequest.headers, body: ccRequest.body });
      if (reply.status !== 200) throw new Error(`client_credentials answered ${reply.status}`);
      return ((await reply.json()) as { access_token: string }).access_token;
    };

    // Redis bytes per live access token.
    const redisBefore = await redisBytes(redis, prefix);
    const infoBefore = await usedMemory(redis);
    await inParallel(TOKENS, 20, () => mintToken(one.url));
    const redisAfter = await redisBytes(redis, prefix);
    const infoAfter = await usedMemory(redis);
    process.stderr.write(`redis: ${TOKENS} tokens measured\n`);

    // PostgreSQL rows and bytes per grant.
    const pgBefore = await tableSizes(db);
    await mintRefreshTokens(codeClient(one.url), GRANTS);
    const pgAfter = await tableSizes(db);
    const perGrant = [...pgAfter].map(([table, after]) => {
      const before = pgBefore.get(table) ?? { rows: 0, bytes: 0 };
      return { table, rows: (after.rows - before.rows) / GRANTS, bytes: (after.bytes - before.bytes) / GRANTS };
    }).filter((row) => row.rows !== 0 || row.bytes !== 0);
    process.stderr.write(`postgres: ${GRANTS} grants measured\n`);

    // Each flow on one process.
    const introspectedToken = await mintToken(one.url);
    const flows: Array<{ name: string; sample: Sample }> = [];
    const measureFlow = async (name: string, request: Parameters<typeof load>[1]) => {
      flows.push({ name, sample: await load(one, request, dataDir, { connections: CONNECTIONS, duration: DURATION }) });
      process.stderr.write(`flow: ${name}\n`);
    };
    await measureFlow('client_credentials (opaque)', ccRequest);
    const connections = await connectionsOf(one.pid, { postgresql: Number(new URL(databaseUrl!).port || 5432), redis: Number(new URL(redisUrl!).port || 6379) });
    await measureFlow('introspection (opaque)', { method: 'POST', path: '/token/introspection', headers: ccRequest.headers, body: `token=${introspectedToken}` });
    const tokenEndpoint = (client: CodeClient) => ({ url: `${client.origin}/token`, headers: { ...form, authorization: basic(client.clientId, client.clientSecret) }, connections: CONNECTIONS });
    await measureFlow('authorization_code redemption', async () => {
      const client = codeClient(one.url);
      const codes = await mintCodes(client, 150 * DURATION);
      return { kind: 'each', ...tokenEndpoint(client), bodies: codes.map((code) => redemptionBody(client, code)) };
    });
    await measureFlow('refresh rotation', async () => ({ kind: 'chain', ...tokenEndpoint(codeClient(one.url)), duration: DURATION, refreshTokens: await mintRefreshTokens(codeClient(one.url), CONNECTIONS) }));

    // Mixed load: one node, then three.
    const mixed = async (targets: Target[]) => {
      const client = codeClient(targets[0]!.url);
      const perNode = Math.max(1, Math.round(CONNECTIONS / targets.length));
      const spec: MixedLoad = {
        nodes: targets.map((t) => t.url), connectionsPerNode: perNode, duration: MIXED_DURATION,
        authorization: basic(rp.client_id!, rp.client_secret!), clientId: rp.client_id!, clientSecret: rp.client_secret!,
        token: introspectedToken,
        refreshTokens: await mintRefreshTokens(client, perNode * targets.length),
        codeBodies: (await mintCodes(client, 30 * MIXED_DURATION)).map((code) => redemptionBody(client, code)),
      };
      const file = join(dataDir, 'mixed.json');
      await writeFile(file, JSON.stringify(spec));
      const cpuBefore = await Promise.all(targets.map((t) => cpuTicks(t.pid)));
      const { stdout } = await run(process.execPath, ['dist/bench/load-mixed.js', file], { maxBuffer: 64 * 1024 * 1024 });
      const cpuAfter = await Promise.all(targets.map((t) => cpuTicks(t.pid)));
      const result = JSON.parse(stdout) as { requests: { average: number; total: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number; codesRedeemed: number };
      const cpuSeconds = cpuAfter.reduce((sum, after, i) => sum + after - cpuBefore[i]!, 0) / 100;
      process.stderr.write(`mixed: ${targets.length} node(s)\n`);
      return { nodes: targets.length, rps: result.requests.average, total: result.requests.total, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx, codesRedeemed: result.codesRedeemed, serverCpuSeconds: cpuSeconds };
    };
    const mixedOne = await mixed([one]);
    const others = await Promise.all(ports.slice(1).map((port) => startGatehouseServer({ ...env, ISSUER: issuer }, port)));
    children.push(...others);
    const mixedThree = await mixed([one, ...others.map((child, i) => node(ports[i + 1]!, child))]);

    const machine = { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage: (await import('node:os')).loadavg() };
    const report = {
      at: new Date().toISOString(), machine, durationSeconds: DURATION, connections: CONNECTIONS,
      flows: flows.map(({ name, sample }) => ({ name, rps: sample.rps, cpuMsPerReq: sample.cpuMsPerReq, perCore: sample.cpuMsPerReq ? 1000 / sample.cpuMsPerReq : 0, p50: sample.p50, p99: sample.p99, errors: sample.errors + sample.non2xx, stealShare: sample.stealShare })),
      redis: { tokens: TOKENS, bytesPerToken: (redisAfter.bytes - redisBefore.bytes) / TOKENS, keysPerToken: (redisAfter.keys - redisBefore.keys) / TOKENS, usedMemoryDeltaPerToken: (infoAfter - infoBefore) / TOKENS },
      postgres: { grants: GRANTS, perGrant },
      connectionsPerProcess: connections,
      mixed: [mixedOne, mixedThree],
    };
    await mkdir(RESULTS, { recursive: true });
    const file = join(RESULTS, `capacity-${report.at.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);

    const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
    process.stdout.write([
      `Gatehouse capacity — ${machine.cpus} cores (${machine.model}), Node ${machine.node}, load average at the end ${machine.loadAverage.map((l) => l.toFixed(1)).join(' ')}; PostgreSQL + Redis on the same machine`,
      '',
      line(['flow (one process)', 'req/s', 'server CPU ms/req', 'req/s per core', 'p99 ms', 'errors', 'steal']),
      line(['---', '---:', '---:', '---:', '---:', '---:', '---:']),
      ...report.flows.map((f) => line([f.name, f.rps.toFixed(0), f.cpuMsPerReq.toFixed(2), f.perCore.toFixed(0), f.p99, f.errors, `${Math.round(100 * f.stealShare)} %`])),
      '',
      `Redis per live access token (client_credentials, opaque): ${report.redis.bytesPerToken.toFixed(0)} bytes in ${report.redis.keysPerToken.toFixed(2)} keys (MEMORY USAGE); INFO used_memory grew ${report.redis.usedMemoryDeltaPerToken.toFixed(0)} bytes per token (server-wide)`,
      '',
      line(['PostgreSQL per grant (code + offline_access, redeemed)', 'rows', 'bytes']),
      line(['---', '---:', '---:']),
      ...perGrant.map((row) => line([row.table, row.rows.toFixed(2), row.bytes.toFixed(0)])),
      line(['total', perGrant.reduce((n, row) => n + row.rows, 0).toFixed(2), perGrant.reduce((n, row) => n + row.bytes, 0).toFixed(0)]),
      '',
      `Connections of one process under load: PostgreSQL ${connections.postgresql}, Redis ${connections.redis}`,
      '',
      line(['mixed load', 'nodes', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'errors', 'codes redeemed', 'server CPU s']),
      line(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
      ...report.mixed.map((m) => line([`${MIXED_DURATION} s`, m.nodes, m.rps.toFixed(0), m.p50, m.p99, m.total, m.errors, m.codesRedeemed, m.serverCpuSeconds.toFixed(1)])),
      '',
      `Written to ${file}`,
      '',
    ].join('\n'));
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    redis.disconnect();
    await db.end();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:capacity: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
