import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { AdapterFactory } from 'oidc-provider';
import type {
  AccountGrant, AccountsStore, AccountTokenStore, AdapterPayload, AuditStore, ClientDialectStore, ClientsStore, ClientTokenStore, CounterStore, KeysStore, PasswordResetLinkStore, PayloadStore, ResourceServersStore, RevocationFeed, ScopesStore, SignInSessionStore,
} from './contract.js';
import { type EmbeddedDatabase, openEmbedded } from './embedded/pglite.js';
import { instrumentStore } from './instrumented-store.js';
import { LocalRevocationFeed } from './local-revocation-feed.js';
import { RELAY_SOCKET, RelayedRevocationFeed, RevocationRelay } from './embedded/revocation-relay.js';
import { createAdapterFactory, endSession, revokeGrant, settleRequestScope } from './oidc-adapter.js';
import { redisTakesWrites, sqlTakesWrites } from './readiness.js';
import { inRequestScope } from './request-scope.js';
import { JWT_ACCESS_TOKEN_MODEL } from './tiers.js';
import { RedisCounterStore } from './redis/counter-store.js';
import { connectRedis, describeRedisTarget, redactUrl, type RedisClient, type RedisConnectionWatcher, type RedisTarget } from './redis/connect.js';
import { failingAsUnavailable } from './redis/connection.js';
import { acknowledgedByReplica } from './redis/replicated.js';
import { DEFAULT_REDIS_PREFIX, redisNamespace } from './redis/namespace.js';
import { RedisPayloadStore } from './redis/payload-store.js';
import { RedisRevocationFeed } from './redis/revocation-feed.js';
import { RedisSignInSessionStore } from './redis/sign-in-sessions-store.js';
import { announcingRevocations } from './revocation-announcing-store.js';
import type { SecretsAtRest } from './secrets-at-rest.js';
import { SqlAccountsStore } from './sql/accounts-store.js';
import { SqlAuditStore } from './sql/audit-store.js';
import { SWEEP_BOUND } from './sql/batched-sweep.js';
import { SqlClientDialectStore } from './sql/client-dialects-store.js';
import { SqlClientsStore } from './sql/clients-store.js';
import { SqlCounterStore } from './sql/counter-store.js';
import type { SqlDatabase } from './sql/database.js';
import { SqlKeysStore } from './sql/keys-store.js';
import { SqlPasswordResetLinkStore } from './sql/password-reset-links-store.js';
import { migrate } from './sql/migrate.js';
import { SqlPayloadStore } from './sql/payload-store.js';
import { openPostgres } from './sql/postgres.js';
import { SqlResourceServersStore } from './sql/resource-servers-store.js';
import { SqlScopesStore } from './sql/scopes-store.js';
import { SqlSignInSessionStore } from './sql/sign-in-sessions-store.js';
import { SqlSourceFingerprintStore } from './sql/source-fingerprints-store.js';
import { StorageRefusedError, StorageUnavailableError } from './unavailable.js';

export interface StorageOptions {
  databaseUrl?: string;
  /** Prepared statements on PostgreSQL (DATABASE_PREPARED_STATEMENTS; default false), and who is told when a pooler refuses them. */
  preparedStatements?: boolean;
  onPreparedStatementsRefused?: () => void;
  /** Who hears that the running Redis connection was lost, and that it came back. */
  redisConnection?: RedisConnectionWatcher;
  /** The ephemeral tier's Redis (REDIS_URL or REDIS_SENTINELS); unset: the durable tier. */
  redis?: RedisTarget;
  dataDir: string;
  /** `owner` for the server; `guest` for tools that may run beside it (the CLI). */
  role: 'owner' | 'guest';
  /** Apply pending migrations (and convert rows stored before secrets were sealed) before returning (default true). */
  migrate?: boolean;
  /** Hashes and seals client secrets and private keys at rest (from SECRETS_KEY). */
  secrets: SecretsAtRest;
  /** Prefix of every Redis key and channel of this deployment (REDIS_PREFIX; default `gatehouse:`). */
  redisPrefix?: string;
  /** Audit events older than this many days are deleted by the sweeper; 0 or unset: kept for ever. */
  auditRetentionDays?: number;
  /** Told the latency and outcome of every adapter call, per tier (metrics). */
  observe?: (tier: 'durable' | 'ephemeral', operation: string, seconds: number, failed: boolean) => void;
}

/**
 * Everything Gatehouse stores, as the interfaces of contract.ts: the domain
 * services and the provider's adapter see these, never SQL, Redis or the
 * embedded database behind them.
 */
export interface Storage {
  readonly description: { durable: string; ephemeral: string };
  /** The durable tier's artifacts (grants, refresh tokens, imported-token records). */
  readonly durable: PayloadStore;
  readonly ephemeral: PayloadStore;
  /** Short-lived shared counters (rate limits, device-code polling), in the ephemeral tier. */
  readonly counters: CounterStore;
  /**
   * Revocations of JWT access tokens, delivered to every process: with
   * Redis, and with the embedded database (one process). Absent with
   * PostgreSQL alone, where each check asks the token's record.
   */
  readonly revocations?: RevocationFeed;
  readonly clients: ClientsStore;
  readonly accounts: AccountsStore;
  readonly scopes: ScopesStore;
  readonly resourceServers: ResourceServersStore;
  readonly keys: KeysStore;
  readonly audit: AuditStore;
  readonly adapter: AdapterFactory;
  /** Every token, code and grant of one client, across both tiers. */
  readonly clientTokens: ClientTokenStore;
  readonly accountTokens: AccountTokenStore;
  /** Sign-in sessions by account, in the tier that holds the sessions. */
  readonly signInSessions: SignInSessionStore;
  /** The dialects each client obtains tokens through (durable). */
  readonly clientDialects: ClientDialectStore;
  /** One-time password-reset links (durable). */
  readonly passwordResetLinks: PasswordResetLinkStore;
  /**
   * Applies pending migrations and answers the ids applied, those opening
   * the storage applied included (once: a second call answers only its own);
   * `undefined` when
   * another process (the running server) owns the embedded database and so
   * applied them at its start-up.
   */
  migrate(): Promise<string[] | undefined>;
  /** Lets the CLI reach an embedded database while this process owns it. */
  share(): Promise<void>;
  /**
   * Periodically deletes expired rows, and audit events past their retention.
   * `onError` is told of each failed sweep, `onSwept` of each round in which
   * every sweep succeeded (the durable tier answered).
   */
  startSweeper(intervalSeconds: number, onError: (error: unknown) => void, onSwept?: () => void): void;
  /**
   * Runs one request's work in a scope of its own (request-scope.ts): the
   * durable tier reads what the request will need together and writes a
   * refresh token's consumption with its replacement. `request` is the
   * object oidc-provider serves the request as (its Koa context, which the
   * adapter finds again through Provider.ctx). Everything is written before
   * this resolves.
   */
  requestScope<T>(request: object, work: () => Promise<T>): Promise<T>;
  /** Probes both tiers; never throws. */
  readiness(): Promise<{ durable: boolean; ephemeral: boolean }>;
  close(): Promise<void>;
}

export { StorageUnavailableError } from './unavailable.js';
export { redactUrl, redisTarget } from './redis/connect.js';
export { EmbeddedDatabaseBusyError } from './embedded/pglite.js';
export { ForeignDataFolderError } from './embedded/data-folder.js';

/** A stored Grant payload (oidc-provider's shape) as an AccountGrant. */
function grantView(grantId: string, payload: AdapterPayload): AccountGrant {
  const openid = payload.openid as { scope?: string } | undefined;
  const resources = (payload.resources ?? {}) as Record<string, string>;
  const scope = [...new Set([openid?.scope ?? '', ...Object.values(resources)].flatMap((value) => value.split(' ')).filter(Boolean))];
  const seconds = (value: unknown) => (typeof value === 'number' ? new Date(value * 1000) : undefined);
  return { grantId, clientId: String(payload.clientId ?? ''), scope, issuedAt: seconds(payload.iat), expiresAt: seconds(payload.exp) };
}

/**
 * Whether PostgreSQL (or a pooler speaking for it) answered and refused the
 * settings: the role or password (SQLSTATE class 28) or the database name
 * (3D000, or a pooler's own words for it). A setting to change, never an
 * outage to wait out.
 */
function refusedSettings(reason: unknown): boolean {
  const { code, message } = (reason ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && /^(28|3D000$)/.test(code)) return true;
  return typeof message === 'string' && /database "[^"]*" does not exist|no such database|password authentication failed/i.test(message);
}

async function openDurable(options: StorageOptions): Promise<SqlDatabase> {
  if (!options.databaseUrl) return openEmbedded(options.dataDir, options.role);
  const db = openPostgres(options.databaseUrl, {
    preparedStatements: options.preparedStatements, onPreparedStatementsRefused: options.onPreparedStatementsRefused,
  });
  try {
    await db.ping();
  } catch (error) {
    await db.close().catch(() => {});
    const reason = error instanceof StorageUnavailableError ? error.cause : error;
    const detail = `DATABASE_URL: cannot reach ${redactUrl(options.databaseUrl)}: ${(reason as Error).message}`;
    throw refusedSettings(reason) ? new StorageRefusedError(detail, reason) : new StorageUnavailableError(detail, reason);
  }
  return db;
}

/**
 * The payload store's writes that a failover must not undo (a spent code
 * redeemed again, a revoked token alive again): behind Sentinel each waits
 * for a replica (redis/replicated.ts). Every method that consumes or
 * revokes belongs here; consumeAndUpsert too, which spends a code with the
 * write of its token.
 */
const SPENDS_OR_REVOKES: ReadonlyArray<keyof RedisPayloadStore> = ['consume', 'consumeAndUpsert', 'destroy', 'revokeByGrantId', 'revokeByClientId'];

/** Opens both tiers, applies migrations and builds the stores on top. */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  const db = await openDurable(options);
  let redis: RedisClient | undefined;
  // What import sources last said about each imported record (a re-run writes only what changed there).
  const clients = new SqlClientsStore(db, options.secrets, new SqlSourceFingerprintStore(db, 'client', options.secrets));
  const keys = new SqlKeysStore(db, options.secrets);
  // What opening applied, for the first migrate() to report (the CLI's `migrate` opens storage first).
  let appliedAtOpen: string[] = [];
  try {
    if (options.migrate !== false && db.kind !== 'embedded-shared') appliedAtOpen = await migrate(db);
    // Before anything is written: a wrong SECRETS_KEY must stop start-up, not
    // seal new rows under a second key.
    await clients.checkKey();
    await keys.checkKey();
    if (options.migrate !== false && db.kind !== 'embedded-shared') {
      await clients.sealLegacyRows();
      await keys.sealLegacyRows();
    }
    if (options.redis) redis = await connectRedis(options.redis, options.redisConnection);
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }

  const observe = options.observe;
  const plainDurable = new SqlPayloadStore(db);
  const durable = observe ? instrumentStore(plainDurable, (op, s, f) => observe('durable', op, s, f)) : plainDurable;
  // A cluster has only database 0.
  const names = redis && redisNamespace(options.redisPrefix ?? DEFAULT_REDIS_PREFIX, redis instanceof Redis ? redis.options.db ?? 0 : 0);
  // Behind Sentinel a failover may lose the last writes: the ones that must
  // not be lost wait for a replica (see replicated.ts).
  const replicated = options.redis?.kind === 'sentinel' && redis instanceof Redis ? redis : undefined;
  const redisPayload = redis && names && failingAsUnavailable(
    replicated ? acknowledgedByReplica(new RedisPayloadStore(redis, names.key('')), replicated, SPENDS_OR_REVOKES)
      : new RedisPayloadStore(redis, names.key('')),
    redis,
  );
  const ephemeralTier: PayloadStore = redisPayload
    ? (observe ? instrumentStore(redisPayload, (op, s, f) => observe('ephemeral', op, s, f)) : redisPayload)
    : durable;
  let revocations: RevocationFeed | undefined;
  const relayPath = join(resolve(options.dataDir), RELAY_SOCKET);
  if (redis && names) {
    const feed = new RedisRevocationFeed(redis, names.key('revocations'), undefined, names.channel('revocations'));
    revocations = failingAsUnavailable(replicated ? acknowledgedByReplica(feed, replicated, ['publish']) : feed, redis);
  }
  else if (db.kind === 'embedded') revocations = new LocalRevocationFeed();
  // The CLI beside a running server: the server's feed is in its memory.
  else if (db.kind === 'embedded-shared') revocations = new RelayedRevocationFeed(relayPath);
  const ephemeral = revocations ? announcingRevocations(ephemeralTier, revocations) : ephemeralTier;
  const sqlCounters = redis ? undefined : new SqlCounterStore(db);
  const counters: CounterStore = redis && names
    ? failingAsUnavailable(new RedisCounterStore(redis, names.key('counter:'), undefined, names.channel('counter:hits')), redis)
    : sqlCounters!;
  // The index lives beside the sessions it indexes (tiers.ts: Session is ephemeral).
  const sqlSignInSessions = redis ? undefined : new SqlSignInSessionStore(db);
  const signInSessions: SignInSessionStore = redis && names
    ? failingAsUnavailable(new RedisSignInSessionStore(redis, names.key('')), redis)
    : sqlSignInSessions!;
  const passwordResetLinks = new SqlPasswordResetLinkStore(db);
  let sweeper: NodeJS.Timeout | undefined;
  let relay: RevocationRelay | undefined;
  const audit = new SqlAuditStore(db);
  const retentionDays = options.auditRetentionDays ?? 0;
  // One prune at a time: a first one over a large backlog may outlast the interval.
  let pruning = false;
  const pruneAudit = async () => {
    if (retentionDays <= 0 || pruning) return;
    pruning = true;
    try {
      // Within the bound of every other table's sweep: a backlog goes over several sweeps.
      await audit.prune(new Date(Date.now() - retentionDays * 86_400_000), SWEEP_BOUND.batchSize, SWEEP_BOUND);
    } finally {
      pruning = false;
    }
  };
  const clientTokens: ClientTokenStore = {
    async revokeAll(clientId, options = {}) {
      const keep = options.keepRegistration ? { keep: ['RegistrationAccessToken'] } : {};
      // Through `ephemeral`, which announces the JWTs this kills; without
      // Redis it is the durable table itself.
      if (ephemeralTier !== durable) await durable.revokeByClientId(clientId, keep);
      await ephemeral.revokeByClientId(clientId, keep);
    },
    countRefreshTokens: (clientId) => durable.countByClient('RefreshToken', clientId),
    // Read through each tier's client index (no scan); both implement expiries by client.
    async countAccessTokens(clientId) {
      const models = ['AccessToken', 'ClientCredentials', JWT_ACCESS_TOKEN_MODEL];
      const live = await Promise.all(models.map((model) => ephemeralTier.expiries(model, { clientId })));
      return live.reduce((sum, tokens) => sum + tokens.size, 0);
    },
  };
  const accountTokens: AccountTokenStore = {
    async revokeAll(accountId) {
      // Grants are durable, so the SQL table knows them all; each revocation
      // goes through `ephemeral`, which announces the JWTs it kills.
      const grantIds = await plainDurable.grantIdsOfAccount(accountId);
      for (const grantId of grantIds) await revokeGrant({ durable, ephemeral }, grantId);
      // And its sign-in sessions: every browser signed in as the account is
      // signed out now (its grants went above), not when it next comes back.
      // Ending them here tells no client (a logout token is the provider's
      // to sign): the account service ends them at the provider first, so
      // this is the sweep for what that left (a session ended meanwhile).
      for (const entry of await signInSessions.listByAccount(accountId)) {
        const session = await ephemeral.findByUid('Session', entry.sessionUid);
        // Ended as every session is (endSession): a request in flight on it cannot write it back.
        if (typeof session?.jti === 'string') await endSession(ephemeral, session.jti);
        await signInSessions.remove(entry.sessionUid);
      }
      return grantIds.length;
    },
    async grantsOf(accountId) {
      return (await plainDurable.grantsOfAccount(accountId)).map(({ id, payload }) => grantView(id, payload));
    },
    async revokeGrant(accountId, grantId) {
      const grant = await plainDurable.find('Grant', grantId);
      if (!grant || grant.accountId !== accountId) return false;
      await revokeGrant({ durable, ephemeral }, grantId);
      return true;
    },
  };

  const adapterTiers = { durable, ephemeral, clients, revokeClientTokens: clientTokens.revokeAll };
  const settle = settleRequestScope(adapterTiers);
  const storage: Storage = {
    description: {
      durable: db.kind === 'postgres' ? `postgres ${redactUrl(options.databaseUrl ?? '')}` : `embedded ${options.dataDir}`,
      ephemeral: redis && options.redis ? `redis ${describeRedisTarget(options.redis)}` : 'durable tier (SQL with expiry)',
    },
    durable,
    ephemeral,
    counters,
    revocations,
    clients,
    accounts: new SqlAccountsStore(db, new SqlSourceFingerprintStore(db, 'account', options.secrets)),
    scopes: new SqlScopesStore(db, new SqlSourceFingerprintStore(db, 'scope', options.secrets)),
    resourceServers: new SqlResourceServersStore(db, new SqlSourceFingerprintStore(db, 'resource_server', options.secrets)),
    keys,
    audit,
    adapter: createAdapterFactory(adapterTiers),
    requestScope: (request, work) => inRequestScope(request, work, settle),
    clientTokens,
    accountTokens,
    signInSessions,
    passwordResetLinks,
    clientDialects: new SqlClientDialectStore(db),
    async migrate() {
      if (db.kind === 'embedded-shared') return undefined;
      const applied = [...appliedAtOpen, ...await migrate(db)];
      appliedAtOpen = [];
      return applied;
    },
    async share() {
      if (db.kind !== 'embedded' || !await (db as EmbeddedDatabase).share()) return;
      // Guests that can reach the database hand their revocations to this process's feed.
      const feed = revocations;
      if (feed instanceof LocalRevocationFeed) {
        relay = new RevocationRelay((revoked) => feed.publish(revoked));
        await relay.listen(relayPath);
      }
    },
    startSweeper(intervalSeconds, onError, onSwept) {
      // Durable artifacts expire too (refresh tokens, grants), so sweep the
      // SQL table whichever tier holds the ephemeral ones. Each sweep deletes
      // batch after batch until its table is clean or its bound is reached
      // (SWEEP_BOUND, batched-sweep.ts), so a round can outlast a short
      // interval: one round at a time, a tick that finds one running skips.
      let sweeping = false;
      sweeper = setInterval(() => {
        if (sweeping) return;
        sweeping = true;
        void Promise.allSettled([
          durable.sweep(),
          sqlCounters?.sweep(),
          sqlSignInSessions?.sweep(),
          passwordResetLinks.sweep(),
          pruneAudit(),
        ]).then((outcomes) => {
          const failures = outcomes.filter((outcome) => outcome.status === 'rejected');
          for (const failure of failures) onError(failure.reason);
          if (failures.length === 0) onSwept?.();
        }).finally(() => { sweeping = false; });
      }, intervalSeconds * 1000);
      sweeper.unref();
    },
    async readiness() {
      // Ready means a token request can be served, which writes to both
      // tiers: a store that answers reads but refuses writes is not ready.
      const durableUp = sqlTakesWrites(db);
      const ephemeralUp = redis && names ? redisTakesWrites(redis, names.key('readiness')) : durableUp;
      const [durableReady, ephemeralReady] = await Promise.all([durableUp, ephemeralUp]);
      return { durable: durableReady, ephemeral: ephemeralReady };
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
      await counters.close?.();
      await relay?.close();
      await revocations?.close?.();
      redis?.disconnect();
      await db.close();
    },
  };
  databases.set(storage, db);
  return storage;
}

const databases = new WeakMap<Storage, SqlDatabase>();

/**
 * The SQL database behind a Storage, for tests that look at rows directly.
 * Deliberately not on the Storage interface: nothing in src/ reaches SQL,
 * only the interfaces of contract.ts.
 */
export function sqlDatabaseOf(storage: Storage): SqlDatabase {
  const db = databases.get(storage);
  if (!db) throw new Error('not a storage opened by openStorage');
  return db;
}
