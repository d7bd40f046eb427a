/**
 * Every setting Gatehouse reads, with its default and the environment
 * variable that overrides it. This table is the single source for the
 * README's configuration section; keep them in step.
 */
export interface Setting {
  /** Environment variable that overrides the default. */
  env: string;
  /** Default value; `undefined` means "not set" (the feature is off or derived). */
  default: string | number | boolean | undefined;
  /** One line for operators: what it does and why the default is what it is. */
  description: string;
}

export const settings = {
  port: {
    env: 'PORT',
    default: 3000,
    description: 'TCP port the HTTP server listens on: 1 to 65535, in plain decimal digits.',
  },
  issuer: {
    env: 'ISSUER',
    default: undefined,
    description: 'Issuer identifier (OIDC Core §2). Defaults to http://localhost:$PORT; set it to the public https URL in production. An origin: no path (Gatehouse serves at the root of its host), no user name or password, no query or fragment.',
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    default: undefined,
    description: 'PostgreSQL connection string for the durable tier. Unset: embedded PGlite in GATEHOUSE_DATA_DIR.',
  },
  databasePreparedStatements: {
    env: 'DATABASE_PREPARED_STATEMENTS',
    default: false,
    description: 'Run statements outside transactions as prepared statements, parsed and planned once per connection (halves PostgreSQL\'s CPU per refresh rotation). For a direct PostgreSQL connection, or PgBouncer 1.21+ with max_prepared_statements > 0. Off by default while its behaviour behind older poolers is being proven; with one, Gatehouse notices the first refusal, logs a warning and goes on without them.',
  },
  redisUrl: {
    env: 'REDIS_URL',
    default: undefined,
    description: 'Redis connection string for the ephemeral tier (redis://host:port/<database number>), leading to a master: a replica is refused at start. Unset: the durable tier with an expiry column and a sweeper.',
  },
  redisSentinels: {
    env: 'REDIS_SENTINELS',
    default: undefined,
    description: 'Redis Sentinel addresses, `host:port,host:port,…`, instead of REDIS_URL (with REDIS_SENTINEL_MASTER): Gatehouse asks them for the master and follows a failover. See docs/operations/scaling-out.md.',
  },
  redisSentinelMaster: {
    env: 'REDIS_SENTINEL_MASTER',
    default: undefined,
    description: 'Name of the master the sentinels monitor (required with REDIS_SENTINELS).',
  },
  redisUsername: {
    env: 'REDIS_USERNAME',
    default: undefined,
    description: 'Redis ACL user for the servers that REDIS_SENTINELS or REDIS_CLUSTER_NODES lead to (with REDIS_URL, put it in the URL).',
  },
  redisPassword: {
    env: 'REDIS_PASSWORD',
    default: undefined,
    description: 'Password of the Redis servers that REDIS_SENTINELS or REDIS_CLUSTER_NODES lead to (with REDIS_URL, put it in the URL).',
  },
  redisSentinelPassword: {
    env: 'REDIS_SENTINEL_PASSWORD',
    default: undefined,
    description: 'Password of the sentinels themselves (their `requirepass`), when they have one.',
  },
  redisTls: {
    env: 'REDIS_TLS',
    default: false,
    description: 'Connect to the Redis servers (and sentinels) of REDIS_SENTINELS or REDIS_CLUSTER_NODES over TLS, verified against Node\'s CAs (add a private CA with NODE_EXTRA_CA_CERTS). With REDIS_URL, use a rediss:// URL.',
  },
  redisClusterNodes: {
    env: 'REDIS_CLUSTER_NODES',
    default: undefined,
    description: 'Seed nodes of a Redis Cluster, `host:port,host:port,…`, instead of REDIS_URL. Key and channel names are the same as with REDIS_URL; multi-key steps are split into single-key ones. See docs/operations/scaling-out.md.',
  },
  dataDir: {
    env: 'GATEHOUSE_DATA_DIR',
    default: 'data',
    description: 'Folder of the embedded database (used only without DATABASE_URL); relative paths are resolved from the working directory.',
  },
  cookieSecrets: {
    env: 'COOKIE_SECRETS',
    default: undefined,
    description: 'Comma-separated cookie signing secrets (newest first, each at least 32 characters). Unset: generated once and kept in the durable store, shared by every process.',
  },
  secretsKey: {
    env: 'SECRETS_KEY',
    default: undefined,
    description: 'The key client secrets and private keys are hashed and sealed with at rest (32 random bytes, base64 or hex: `openssl rand -base64 32`). Never stored in the database. Required with DATABASE_URL; unset without it: generated once into GATEHOUSE_DATA_DIR/secrets.key (mode 0600).',
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    default: false,
    description: 'Take the client address from X-Forwarded-For (set when a load balancer sits in front); URLs always come from ISSUER.',
  },
  proxyHops: {
    env: 'PROXY_HOPS',
    default: 1,
    description: 'With TRUST_PROXY: how many proxies in front of Gatehouse add to X-Forwarded-For. The client address is that many entries from the right; entries further left are whatever the client sent, so they are ignored (else one client could pass for many at the brute-force limits).',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    default: 'info',
    description: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
  },
  logFormat: {
    env: 'LOG_FORMAT',
    default: undefined,
    description: 'json (one JSON line per event, ISO times) or pretty (readable lines). Unset: pretty on a terminal, json otherwise.',
  },
  accessTokenTtl: {
    env: 'ACCESS_TOKEN_TTL',
    default: 3600,
    description: 'Lifetime of access tokens issued to users, in seconds.',
  },
  clientCredentialsTtl: {
    env: 'CLIENT_CREDENTIALS_TTL',
    default: 3600,
    description: 'Lifetime of client_credentials access tokens, in seconds.',
  },
  authorizationCodeTtl: {
    env: 'AUTHORIZATION_CODE_TTL',
    default: 60,
    description: 'Lifetime of authorization codes, in seconds (RFC 6749 §4.1.2 recommends at most 10 minutes).',
  },
  idTokenTtl: {
    env: 'ID_TOKEN_TTL',
    default: 3600,
    description: 'Lifetime of ID tokens, in seconds.',
  },
  refreshTokenTtl: {
    env: 'REFRESH_TOKEN_TTL',
    default: 1209600,
    description: 'Lifetime of refresh tokens, in seconds (14 days). Each rotation issues a fresh one.',
  },
  sessionTtl: {
    env: 'SESSION_TTL',
    default: 1209600,
    description: 'Lifetime of end-user sessions at the provider, in seconds (14 days), renewed on use. A session nobody has signed in to lives no longer than INTERACTION_TTL.',
  },
  passwordResetLinkTtl: {
    env: 'PASSWORD_RESET_LINK_TTL',
    default: 86400,
    description: 'How long a one-time password-reset link made in the admin console stays usable, in seconds (24 hours).',
  },
  interactionTtl: {
    env: 'INTERACTION_TTL',
    default: 3600,
    description: 'How long a login or consent page stays valid, in seconds.',
  },
  grantTtl: {
    env: 'GRANT_TTL',
    default: 1209600,
    description: 'Lifetime of a consent grant, in seconds (14 days).',
  },
  losAccessTokenTtl: {
    env: 'LOS_ACCESS_TOKEN_TTL',
    default: 3600,
    description: 'Lifetime of tokens issued through the LOS dialect (/api/v1.1/oauth/token), in seconds; its document promises 3600.',
  },
  leAccessTokenTtl: {
    env: 'LE_ACCESS_TOKEN_TTL',
    default: 3600,
    description: 'Lifetime of LEAccess tokens issued through the LE Enterprise dialect (/liveexpert/oauth/authorize), in seconds.',
  },
  dotAccessTokenTtl: {
    env: 'DOT_ACCESS_TOKEN_TTL',
    default: 600,
    description: 'Lifetime of access tokens issued through the django-oauth-toolkit dialect (/auth/oauth2/token/), in seconds (its document: 10 minutes).',
  },
  dotRefreshTokenTtl: {
    env: 'DOT_REFRESH_TOKEN_TTL',
    default: 86400,
    description: 'Lifetime of refresh tokens issued through the django-oauth-toolkit dialect, in seconds (its document: 1 day).',
  },
  metricsPort: {
    env: 'METRICS_PORT',
    default: undefined,
    description: 'Serve /metrics on this port (bound to 127.0.0.1) instead of the main port; it must differ from PORT. Unset: /metrics on the main port.',
  },
  webConcurrency: {
    env: 'WEB_CONCURRENCY',
    default: undefined,
    description: 'Worker processes `npm start` runs over the same PostgreSQL and Redis. Unset: the number of cores when NODE_ENV=production, else 1. The embedded database allows only 1.',
  },
  allowLoopbackCallbacks: {
    env: 'ALLOW_LOOPBACK_CALLBACKS',
    default: false,
    description: 'Let outgoing calls (back-channel logout) reach loopback addresses, which oidc-provider blocks against SSRF. For development and tests only.',
  },
  deviceCodeTtl: {
    env: 'DEVICE_CODE_TTL',
    default: 600,
    description: 'Lifetime of device and user codes (RFC 8628), in seconds.',
  },
  devicePollInterval: {
    env: 'DEVICE_POLL_INTERVAL',
    default: 5,
    description: 'Seconds a device must wait between token polls (RFC 8628 §3.2); faster polls get slow_down.',
  },
  clientFailureLimit: {
    env: 'CLIENT_FAILURE_LIMIT',
    default: 10,
    description: 'Failed client authentications for one client_id from one address (IPv6: one /64) before that address must wait to try it again (429 with Retry-After); other addresses are not affected.',
  },
  userFailureLimit: {
    env: 'USER_FAILURE_LIMIT',
    default: 5,
    description: 'Failed sign-ins or password grants for one username from one address before that address must wait to try it again; a success from there clears the count.',
  },
  ipFailureLimit: {
    env: 'IP_FAILURE_LIMIT',
    default: 30,
    description: 'Failed authentications of any kind from one client address (IPv6: one /64) before it must wait to try anything.',
  },
  distributedFailureLimit: {
    env: 'DISTRIBUTED_FAILURE_LIMIT',
    default: 10,
    description: 'Distinct addresses with failures for one client_id or username within FAILURE_WINDOW before every attempt on it, from anywhere, must wait: stops distributed guessing, and one address alone never reaches it (at least 2).',
  },
  failureWindow: {
    env: 'FAILURE_WINDOW',
    default: 900,
    description: 'Seconds without a failure after which a counter starts again from zero.',
  },
  maxBackoff: {
    env: 'MAX_BACKOFF',
    default: 300,
    description: 'Longest wait, in seconds, that back-off imposes (it doubles from 1 second past a limit), so nobody is locked out for good.',
  },
  sweepInterval: {
    env: 'SWEEP_INTERVAL',
    default: 60,
    description: 'Seconds between deletions of expired rows (refresh tokens, grants, reset links; with no Redis also the ephemeral ones) and of audit events past AUDIT_RETENTION_DAYS. The sweeper runs whatever the tiers.',
  },
  auditRetentionDays: {
    env: 'AUDIT_RETENTION_DAYS',
    default: 90,
    description: 'Days audit events are kept; the sweeper deletes older ones every SWEEP_INTERVAL (and `gatehouse audit prune` on demand). 0 keeps them for ever.',
  },
  signingKeyActivationDelay: {
    env: 'SIGNING_KEY_ACTIVATION_DELAY',
    default: 600,
    description: 'Seconds between a signing key\'s creation (`gatehouse keys rotate`) and the first token signed with it. Every running process publishes the new key in JWKS within seconds; the delay lets relying parties\' JWKS caches see it first. 0 signs with it at once.',
  },
  redisPrefix: {
    env: 'REDIS_PREFIX',
    default: 'gatehouse:',
    description: 'Prefix of every Redis key and pub/sub channel, so that deployments can share one Redis database. Channels also carry the database number (`gatehouse:db<N>:…`), since pub/sub ignores it. The default keeps the key names earlier versions used.',
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;
