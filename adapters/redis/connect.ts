import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { StorageRefusedError, StorageUnavailableError } from '../unavailable.js';
import { RefusalReplies, type RedisConnectionWatcher, watchConnection } from './connection-watcher.js';

export type { RedisConnectionWatcher } from './connection-watcher.js';

export interface HostPort {
  host: string;
  port: number;
}

/** How to reach Redis: one server by URL, the master a Sentinel set names, or a Cluster by its seed nodes. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; master: string; access?: RedisAccess }
  | { kind: 'cluster'; nodes: HostPort[]; access?: RedisAccess };

/** Credentials and transport for servers reached by address rather than by URL. */
export interface RedisAccess {
  username?: string;
  password?: string;
  /** The sentinels' own password (their requirepass), not the data servers'. */
  sentinelPassword?: string;
  tls?: boolean;
}

/** A connection to a single Redis (directly or through Sentinel) or to a Cluster; the stores accept either. */
export type RedisClient = Redis | Cluster;

/** `host:port,host:port` (validated by the configuration schema) as addresses. */
export function parseHostPorts(list: string): HostPort[] {
  return list.split(',').map((entry) => {
    const colon = entry.lastIndexOf(':');
    return { host: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) };
  });
}

/** The Redis the configuration names, if any (load.ts allows one way at most). */
export function redisTarget(config: {
  redisUrl?: string; redisSentinels?: string; redisSentinelMaster?: string; redisClusterNodes?: string;
  redisUsername?: string; redisPassword?: string; redisSentinelPassword?: string; redisTls?: boolean;
}): RedisTarget | undefined {
  if (config.redisUrl) return { kind: 'single', url: config.redisUrl };
  const given: RedisAccess = Object.fromEntries(Object.entries({
    username: config.redisUsername, password: config.redisPassword, sentinelPassword: config.redisSentinelPassword, tls: config.redisTls,
  }).filter(([, value]) => value !== undefined && value !== false));
  const access = Object.keys(given).length ? { access: given } : {};
  if (config.redisClusterNodes) return { kind: 'cluster', nodes: parseHostPorts(config.redisClusterNodes), ...access };
  if (config.redisSentinels && config.redisSentinelMaster) {
    return { kind: 'sentinel', sentinels: parseHostPorts(config.redisSentinels), master: config.redisSentinelMaster, ...access };
  }
  return undefined;
}

// Query parameters that carry a secret: node-postgres and ioredis both take
// `?password=`, libpq `sslpassword` and key material; matched loosely so a
// driver's next spelling is hidden too.
const SECRET_PARAMETER = /pass|secret|token|key|credential/i;

/** Hides the password of a connection string (in its user-info or its query) before it is shown anywhere. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) if (SECRET_PARAMETER.test(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** The target in words, without secrets (start-up log, errors). */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (target.kind === 'single') return redactUrl(target.url);
  return target.kind === 'sentinel' ? `master "${target.master}" of sentinels ${list(target.sentinels)}` : `cluster ${list(target.nodes)}`;
}

// Replies that mean "this node cannot take the command now", not "the
// command is wrong": a demoted master (READONLY) or one refusing writes
// without replicas (NOREPLICAS), a node loading its data (LOADING), a
// replica without its master (MASTERDOWN), a cluster without a quorum or
// moving a slot (CLUSTERDOWN, TRYAGAIN, and MOVED or ASK should ioredis
// ever pass one on instead of following it). During a failover they are an
// outage (503), and after one, a reconnection finds the new master. So are
// the replies of a node that refuses writes until an operator acts: out of
// memory under `maxmemory` with nothing evictable (OOM), a failed snapshot
// with stop-writes-on-bgsave-error (MISCONF), a script running past its
// time limit (BUSY; not BUSYKEY, which is about the command's key).
export const TRANSIENT_REPLY = /^(READONLY|NOREPLICAS|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK|OOM|MISCONF|BUSY)\b/;

// Bounded so that a request never waits long on a Redis that is gone: a
// command queued while disconnected fails once two reconnection attempts
// have failed (maxRetriesPerRequest: 1), attempts come at least every half
// second (so about a second in all, and service resumes within half a
// second of Redis returning), and neither a connect nor a command may hang
// for more than two seconds. The request then gets 503. Auto-pipelining
// sends the commands of concurrent requests in one socket write: under
// load, a write(2) per command was a twentieth of the token endpoint's CPU
// (profiled).
const BOUNDED: RedisOptions = {
  lazyConnect: true,
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt) => Math.min(attempt * 100, 500),
  connectTimeout: 2000,
  commandTimeout: 2000,
  enableAutoPipelining: true,
};

/**
 * A master demoted under this connection answers READONLY: reconnect (and
 * so, with Sentinel, ask for the new master) rather than keep writing to it.
 * The failed command itself still fails (503); it is not resent. `heard` is
 * told the reply, since the connection's own 'close' says nothing of why.
 */
function reconnectOnReadOnly(heard: (reply: string) => void): RedisOptions['reconnectOnError'] {
  return (error) => {
    if (!/^READONLY\b/.test(error.message)) return false;
    heard(error.message);
    return true;
  };
}

function client(target: RedisTarget, replies: RefusalReplies): RedisClient {
  const reconnectOnError = reconnectOnReadOnly((reply) => replies.heard(reply));
  if (target.kind === 'single') return new Redis(target.url, { ...BOUNDED, reconnectOnError });
  if (target.kind === 'cluster') {
    // Not reconnectOnError: ioredis follows a cluster's MOVED and failovers
    // itself, and a node connection it closes is never reopened (its nodes
    // have no retry strategy), so closing them on errors emptied the pool.
    const { lazyConnect, retryStrategy, enableAutoPipelining: _, ...perNode } = BOUNDED;
    const { username, password, tls } = target.access ?? {};
    return new Cluster(target.nodes, {
      lazyConnect,
      // Off in a cluster: when a slot moves (a replica promoted), ioredis
      // hands an auto-pipelined batch's MOVED replies to the callers instead
      // of following them (seen as 500s with a master killed under load).
      enableAutoPipelining: false,
      // The same bounds as a single Redis, per node and for the cluster as a whole.
      clusterRetryStrategy: retryStrategy,
      redisOptions: { ...perNode, username, password, ...(tls ? { tls: {} } : {}) },
      // During a failover a node answers CLUSTERDOWN or TRYAGAIN; retry
      // within the command's own bound rather than fail at once.
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      retryDelayOnFailover: 100,
      // ioredis asks for the slot map only after certain errors, and a
      // master killed outright left it routing that master's slots to the
      // dead address for many seconds after the cluster had promoted the
      // replica. Asking every second bounds that to a second.
      slotsRefreshInterval: 1000,
    });
  }
  const { username, password, sentinelPassword, tls } = target.access ?? {};
  return new Redis({
    ...BOUNDED,
    reconnectOnError,
    sentinels: target.sentinels,
    name: target.master,
    username,
    password,
    sentinelPassword,
    // TLS to the sentinels and to the master they name alike.
    ...(tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
    // Sentinels are asked again at the same pace as a lost master is retried.
    sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 500),
    // Listens for the sentinels' +switch-master, so the connection moves to
    // the promoted replica as soon as the failover is decided.
    failoverDetector: true,
  });
}

/**
 * Connects and pings. A Redis that cannot be reached is a
 * StorageUnavailableError naming the setting (start-up waits for it); one
 * that answers and refuses the settings (the credentials, the database the
 * URL names) or that REDIS_URL finds to be a replica is a RedisRefusedError
 * (start-up stops and says which setting to change).
 */
export async function connectRedis(target: RedisTarget, watcher?: RedisConnectionWatcher): Promise<RedisClient> {
  const replies = new RefusalReplies();
  const redis = client(target, replies);
  // Connection errors surface through failed commands and /readyz; without a
  // listener ioredis would print every reconnection attempt. The first one
  // says why a start-up connection failed (ioredis's own rejection then says
  // only "Connection is closed.").
  let cause: Error | undefined;
  let selectRefused: Error | undefined;
  redis.on('error', (error: Error) => {
    cause ??= error;
    // ioredis sends the URL's SELECT as the connection opens and, when Redis
    // refuses it (a database number past its `databases`), reports that here
    // only and goes on in database 0: the data would silently land beside
    // whatever else uses database 0.
    if ((error as Error & { command?: { name?: string } }).command?.name === 'select') selectRefused ??= error;
  });
  const setting = { single: 'REDIS_URL', sentinel: 'REDIS_SENTINELS', cluster: 'REDIS_CLUSTER_NODES' }[target.kind];
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const reported = cause ?? error as Error;
    // A wrong password answers at once and never comes right by waiting: a setting to change.
    const Refusal = authenticationRefused(reported) ? RedisRefusedError : StorageUnavailableError;
    throw new Refusal(`${setting}: cannot reach ${describeRedisTarget(target)}: ${whyUnreachable(reported, target)}`, error);
  }
  if (selectRefused) {
    redis.disconnect();
    const database = redis instanceof Redis ? redis.options.db : undefined;
    throw new RedisRefusedError(
      `${setting}: ${describeRedisTarget(target)}: Redis refused database ${database ?? '(the one named)'} (${selectRefused.message}); `
      + 'name a database number below the server\'s `databases` setting (16 by default: 0 to 15)',
      selectRefused,
    );
  }
  // Sentinel and Cluster find the masters themselves; a URL is taken as given.
  const role = target.kind === 'single' && redis instanceof Redis ? await serverRole(redis) : undefined;
  if (role && role.kind !== 'master') {
    redis.disconnect();
    throw new RedisRefusedError(`${setting}: ${describeRedisTarget(target)} ${notAMaster(role)}`);
  }
  if (watcher) watchConnection(redis, watcher, replies, async () => !(redis instanceof Redis) || (await serverRole(redis))?.kind !== 'replica');
  return redis;
}

/**
 * The Redis that the settings lead to answered, and is not one Gatehouse
 * can use (a replica, a sentinel): a setting to change, not an outage to
 * wait out.
 */
export class RedisRefusedError extends StorageRefusedError {
  override name = 'RedisRefusedError';
}

/** What a single Redis server is (its reply to ROLE). */
export type ServerRole = { kind: 'master' } | { kind: 'replica'; master: string } | { kind: 'sentinel' };

/**
 * What a single Redis says it is (ROLE): a master, a replica (and of
 * which master) or a sentinel. Undefined when it will not say (ROLE
 * renamed away or refused by an ACL): the connection is then taken as given.
 */
export async function serverRole(redis: Redis): Promise<ServerRole | undefined> {
  try {
    const reply = await redis.call('ROLE') as unknown[];
    const kind = String(reply[0]);
    if (kind === 'master') return { kind: 'master' };
    if (kind === 'slave' || kind === 'replica') return { kind: 'replica', master: `${String(reply[1])}:${String(reply[2])}` };
    if (kind === 'sentinel') return { kind: 'sentinel' };
    return undefined;
  } catch {
    return undefined;
  }
}

function notAMaster(role: ServerRole): string {
  if (role.kind === 'sentinel') return 'is a Sentinel, not a Redis server: use REDIS_SENTINELS and REDIS_SENTINEL_MASTER instead of REDIS_URL';
  // A replica refuses writes (READONLY), or, made writable, keeps them to itself.
  return `is a replica (of ${role.kind === 'replica' ? role.master : 'another server'}), which Gatehouse cannot write to (READONLY): `
    + 'point REDIS_URL at the master, or use REDIS_SENTINELS to follow the master through failovers';
}

/** Whether Redis answered and refused the credentials (a cluster's reason is its last node's). */
function authenticationRefused(reported: Error): boolean {
  const error = (reported as Error & { lastNodeError?: Error }).lastNodeError ?? reported;
  return /NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(error.message);
}

/** A connection failure in an operator's words. */
function whyUnreachable(reported: Error, target: RedisTarget): string {
  // A cluster reports "None of startup nodes is available"; the reason is the last node's error.
  const error = (reported as Error & { lastNodeError?: Error }).lastNodeError ?? reported;
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is Redis running and listening there?)',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name could not be resolved',
    ETIMEDOUT: 'timed out',
    EHOSTUNREACH: 'host unreachable',
  };
  if (code && reasons[code]) return reasons[code];
  if (authenticationRefused(reported)) {
    const where = target.kind === 'single' ? 'the password in the URL'
      : target.kind === 'sentinel' ? 'REDIS_PASSWORD, REDIS_USERNAME and REDIS_SENTINEL_PASSWORD' : 'REDIS_PASSWORD and REDIS_USERNAME';
    return `authentication failed (check ${where})`;
  }
  return error.message;
}

/** A second connection like `redis` (pub/sub needs its own), lazily connected. */
export function duplicateOf(redis: RedisClient): RedisClient {
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
}
