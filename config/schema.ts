import type { JSONSchemaType } from 'ajv';

/** The validated, typed configuration every module receives. */
export interface GatehouseConfig {
  port: number;
  issuer: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** Sentinel addresses, `host:port,host:port,…` (instead of redisUrl, with redisSentinelMaster). */
  redisSentinels?: string;
  /** The master's name the sentinels monitor. */
  redisSentinelMaster?: string;
  /** Seed nodes of a Redis Cluster, `host:port,host:port,…` (instead of redisUrl). */
  redisClusterNodes?: string;
  redisUsername?: string;
  redisPassword?: string;
  redisSentinelPassword?: string;
  redisTls: boolean;
  databasePreparedStatements: boolean;
  dataDir: string;
  cookieSecrets?: string[];
  /** 32 bytes, base64 (standard or url-safe) or hex; decoded by src/config/secrets-key.ts. */
  secretsKey?: string;
  trustProxy: boolean;
  proxyHops: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logFormat?: 'json' | 'pretty';
  accessTokenTtl: number;
  clientCredentialsTtl: number;
  authorizationCodeTtl: number;
  idTokenTtl: number;
  refreshTokenTtl: number;
  sessionTtl: number;
  passwordResetLinkTtl: number;
  interactionTtl: number;
  grantTtl: number;
  losAccessTokenTtl: number;
  leAccessTokenTtl: number;
  dotAccessTokenTtl: number;
  dotRefreshTokenTtl: number;
  allowLoopbackCallbacks: boolean;
  metricsPort?: number;
  webConcurrency?: number;
  sweepInterval: number;
  deviceCodeTtl: number;
  devicePollInterval: number;
  clientFailureLimit: number;
  userFailureLimit: number;
  ipFailureLimit: number;
  distributedFailureLimit: number;
  failureWindow: number;
  maxBackoff: number;
  auditRetentionDays: number;
  redisPrefix: string;
  signingKeyActivationDelay: number;
}

// `host:port` pairs separated by commas (load.ts removes spaces around them).
const HOST_PORT_LIST = '^[^\\s,:]+:[0-9]{1,5}(,[^\\s,:]+:[0-9]{1,5})*$';

const ttl = { type: 'integer', minimum: 1, maximum: 31_536_000 } as const;

export const configSchema: JSONSchemaType<GatehouseConfig> = {
  type: 'object',
  additionalProperties: false,
  required: [
    'port', 'issuer', 'dataDir', 'trustProxy', 'proxyHops', 'logLevel', 'accessTokenTtl', 'clientCredentialsTtl',
    'authorizationCodeTtl', 'idTokenTtl', 'refreshTokenTtl', 'sessionTtl', 'passwordResetLinkTtl', 'interactionTtl', 'grantTtl',
    'allowLoopbackCallbacks', 'losAccessTokenTtl', 'leAccessTokenTtl', 'dotAccessTokenTtl', 'dotRefreshTokenTtl', 'sweepInterval',
    'deviceCodeTtl', 'devicePollInterval', 'clientFailureLimit', 'userFailureLimit', 'ipFailureLimit', 'distributedFailureLimit', 'failureWindow',
    'maxBackoff', 'auditRetentionDays', 'redisPrefix', 'signingKeyActivationDelay', 'redisTls', 'databasePreparedStatements',
  ],
  properties: {
    // 0 would listen on a port the system picks, which no issuer can name.
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    // An issuer is an https URL (OIDC Discovery §3); plain http is accepted for
    // local development, and neither a query nor a fragment is allowed. No
    // user-info and no path either: src/config/load.ts checks those.
    issuer: { type: 'string', format: 'uri', pattern: '^https?://[^?#]+$' },
    databaseUrl: { type: 'string', nullable: true, pattern: '^postgres(ql)?://' },
    redisUrl: { type: 'string', nullable: true, pattern: '^rediss?://' },
    redisSentinels: { type: 'string', nullable: true, pattern: HOST_PORT_LIST },
    redisSentinelMaster: { type: 'string', nullable: true, pattern: '^[A-Za-z0-9_.-]{1,64}$' },
    redisClusterNodes: { type: 'string', nullable: true, pattern: HOST_PORT_LIST },
    redisUsername: { type: 'string', nullable: true, minLength: 1 },
    redisPassword: { type: 'string', nullable: true, minLength: 1 },
    redisSentinelPassword: { type: 'string', nullable: true, minLength: 1 },
    redisTls: { type: 'boolean' },
    databasePreparedStatements: { type: 'boolean' },
    dataDir: { type: 'string', minLength: 1 },
    cookieSecrets: {
      type: 'array', nullable: true, minItems: 1, items: { type: 'string', minLength: 32 },
    },
    secretsKey: { type: 'string', nullable: true, pattern: '^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)$' },
    trustProxy: { type: 'boolean' },
    proxyHops: { type: 'integer', minimum: 1, maximum: 16 },
    logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    logFormat: { type: 'string', nullable: true, enum: ['json', 'pretty'] },
    accessTokenTtl: ttl,
    clientCredentialsTtl: ttl,
    authorizationCodeTtl: { type: 'integer', minimum: 1, maximum: 600 },
    idTokenTtl: ttl,
    refreshTokenTtl: ttl,
    sessionTtl: ttl,
    passwordResetLinkTtl: { type: 'integer', minimum: 60, maximum: 2_592_000 },
    interactionTtl: ttl,
    grantTtl: ttl,
    losAccessTokenTtl: ttl,
    leAccessTokenTtl: ttl,
    dotAccessTokenTtl: ttl,
    dotRefreshTokenTtl: ttl,
    allowLoopbackCallbacks: { type: 'boolean' },
    metricsPort: { type: 'integer', nullable: true, minimum: 1, maximum: 65535 },
    webConcurrency: { type: 'integer', nullable: true, minimum: 1, maximum: 64 },
    sweepInterval: { type: 'integer', minimum: 1, maximum: 86_400 },
    deviceCodeTtl: { type: 'integer', minimum: 1, maximum: 3600 },
    devicePollInterval: { type: 'integer', minimum: 1, maximum: 60 },
    clientFailureLimit: { type: 'integer', minimum: 1, maximum: 10_000 },
    userFailureLimit: { type: 'integer', minimum: 1, maximum: 10_000 },
    ipFailureLimit: { type: 'integer', minimum: 1, maximum: 100_000 },
    // At least two addresses, or one source could hold a subject's limit.
    distributedFailureLimit: { type: 'integer', minimum: 2, maximum: 100_000 },
    failureWindow: { type: 'integer', minimum: 1, maximum: 86_400 },
    maxBackoff: { type: 'integer', minimum: 1, maximum: 86_400 },
    // 0 keeps the audit trail for ever; at most 100 years otherwise.
    auditRetentionDays: { type: 'integer', minimum: 0, maximum: 36_500 },
    // Printable, no spaces: it starts every key and channel name.
    redisPrefix: { type: 'string', pattern: '^[A-Za-z0-9_.:{}-]{1,64}$' },
    signingKeyActivationDelay: { type: 'integer', minimum: 0, maximum: 604_800 },
  },
};
