import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort, tempDir } from './server.js';

/** Whether `redis-server` (and `redis-cli`) are installed (Debian package redis-server). */
export function redisBinariesPresent(): boolean {
  return ['redis-server', 'redis-cli'].every((binary) => spawnSync(binary, ['--version']).status === 0);
}

// On a machine shared with other runs, TEST_REDIS_PORTS=low-high keeps every
// port the redis-servers started here listen on (a cluster node's bus port
// included) in that range; otherwise any free port.
const PORT_RANGE = /^(\d+)-(\d+)$/.exec(process.env.TEST_REDIS_PORTS ?? '');
let rangeCursor = 0;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A port for a redis-server to listen on (see TEST_REDIS_PORTS). */
export async function redisPort(): Promise<number> {
  if (!PORT_RANGE) return freePort();
  const low = Number(PORT_RANGE[1]);
  const size = Number(PORT_RANGE[2]) - low + 1;
  for (let tried = 0; tried < size; tried += 1) {
    const port = low + (rangeCursor++ % size);
    if (await portFree(port)) return port;
  }
  throw new Error(`TEST_REDIS_PORTS=${process.env.TEST_REDIS_PORTS}: no free port left in the range`);
}

/** One redis-server process this test started, on its own port and folder. */
export interface RedisProcess {
  pid: number;
  port: number;
  dir: string;
  /** SIGKILL by PID, as a crashed machine: no chance to hand anything over. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

async function answers(port: number, child: ChildProcess, log: () => string, password?: string): Promise<void> {
  const probe = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    for (let i = 0; i < 100; i += 1) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}\n${log()}`);
      try {
        if (probe.status !== 'ready') await probe.connect();
        await probe.ping();
        return;
      } catch { /* not yet */ }
      probe.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server on ${port} did not answer\n${log()}`);
  } finally {
    probe.disconnect();
  }
}

/**
 * Starts `redis-server` with a generated configuration file (sentinels
 * rewrite theirs) in a temporary folder, without persistence, listening on
 * 127.0.0.1 only.
 */
export async function startRedis(lines: string[], options: { sentinel?: boolean; port?: number; password?: string } = {}): Promise<RedisProcess> {
  const dir = await tempDir('gh-redis-');
  const port = options.port ?? await redisPort();
  const conf = join(dir, 'redis.conf');
  await writeFile(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'save ""', 'appendonly no', ...lines, ''].join('\n'));
  const child = spawn('redis-server', [conf, ...(options.sentinel ? ['--sentinel'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer) => { log = (log + String(chunk)).slice(-4000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await answers(port, child, () => log, options.password);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
    await exited;
  };
  return {
    pid: child.pid!,
    port,
    dir,
    kill: () => end('SIGKILL'),
    async stop() {
      await end('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` every 50 ms until it resolves true; fails with `what` after `ms`. */
export async function eventually(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try { if (await probe()) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A plain client for the test's own questions to one node. */
export function nodeClient(port: number, password?: string): Redis {
  const client = new Redis({ port, host: '127.0.0.1', password, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  return client;
}

/**
 * Has Redis close every client connection named `name` (CLIENT KILL), on
 * each node of a cluster: the connection drops as it would were its node to
 * fail, and the client learns of it only from its socket. Every node is
 * listed before any connection is closed, so a connection opened to replace
 * one closed here is left alone. Returns how many were closed.
 */
export async function dropConnectionsNamed(client: Redis | Cluster, name: string): Promise<number> {
  const named: Array<{ node: Redis; id: string }> = [];
  for (const node of client instanceof Cluster ? client.nodes('all') : [client]) {
    const list = await node.call('CLIENT', 'LIST') as string;
    for (const line of list.split('\n')) {
      const fields = new Map(line.split(' ').map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]));
      if (fields.get('name') === name) named.push({ node, id: fields.get('id')! });
    }
  }
  let dropped = 0;
  for (const { node, id } of named) dropped += Number(await node.call('CLIENT', 'KILL', 'ID', id));
  return dropped;
}

export interface RedisClusterProcesses {
  /** Every node's address, masters and replicas (the seed list for REDIS_CLUSTER_NODES). */
  nodes: Array<{ host: string; port: number }>;
  processes: RedisProcess[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of three masters with a replica each: six
 * `redis-server --cluster-enabled yes` on free ports, joined by
 * `redis-cli --cluster create`, ready once every node reports
 * cluster_state:ok.
 */
export async function startRedisCluster(options: { password?: string } = {}): Promise<RedisClusterProcesses> {
  const { password } = options;
  // A replica authenticates to its master with the same password.
  const auth = password ? [`requirepass ${password}`, `masterauth ${password}`] : [];
  const processes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 6; i += 1) {
      // The bus port given, not Redis's default of port + 10000 (past 65535 for a free port above 55535).
      processes.push(await startRedis(['cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000', `cluster-port ${await redisPort()}`, ...auth], { password }));
    }
    const nodes = processes.map((p) => ({ host: '127.0.0.1', port: p.port }));
    const created = spawnSync('redis-cli', [...(password ? ['--no-auth-warning', '-a', password] : []), '--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
    for (const node of nodes) {
      const asked = nodeClient(node.port, password);
      try {
        // Every node sees the slots covered, three masters with slots and three replicas attached.
        await eventually(`node ${node.port} sees the whole cluster`, async () => {
          if (!/cluster_state:ok/.test(await asked.call('CLUSTER', 'INFO') as string)) return false;
          const lines = (await asked.call('CLUSTER', 'NODES') as string).split('\n').filter(Boolean);
          const masters = lines.filter((line) => /\bmaster\b/.test(line) && line.split(' ').length > 8);
          const replicas = lines.filter((line) => /\bslave\b/.test(line) && / connected/.test(line));
          return masters.length === 3 && replicas.length === 3;
        }, 30_000);
      } finally {
        asked.disconnect();
      }
    }
    return { nodes, processes, stop: async () => { for (const p of processes) await p.stop(); } };
  } catch (error) {
    for (const p of processes) await p.stop();
    throw error;
  }
}

let shared: Promise<RedisClusterProcesses> | undefined;

/**
 * One cluster for every test file of a run that asks for it (started on first
 * use; stopped by the root hook in environment.ts, or at exit by PID).
 */
export function sharedRedisCluster(): Promise<RedisClusterProcesses> {
  if (!shared) {
    shared = startRedisCluster();
    shared.then((cluster) => {
      process.once('exit', () => { for (const p of cluster.processes) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } } });
    }, () => {});
  }
  return shared;
}

/** Stops the shared cluster if this run started one. */
export async function stopSharedRedisCluster(): Promise<void> {
  if (!shared) return;
  const started = shared;
  shared = undefined;
  await (await started.catch(() => undefined))?.stop();
}

/** Whether the store contract tests also run on a Redis Cluster (TEST_REDIS_CLUSTER=1, and redis-server installed). */
export const clusterContractWanted = process.env.TEST_REDIS_CLUSTER === '1';
