import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { settings, type SettingName } from '../../config/defaults.js';
import { configSchema, type GatehouseConfig } from '../../config/schema.js';
import { ConfigError } from '../../config/setting-errors.js';

export { ConfigError };

// ajv-formats ships CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ajv = addFormats(new Ajv({ allErrors: true, coerceTypes: true, useDefaults: false }));
const validate = ajv.compile(configSchema);

function envValue(env: NodeJS.ProcessEnv, name: SettingName): string | undefined {
  const raw = env[settings[name].env];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

// What a setting's pattern means, for people: the regular expression itself helps no one.
const FORMS: Partial<Record<SettingName, string>> = {
  issuer: 'must be an http:// or https:// URL with no query or fragment, e.g. https://id.example.com',
  databaseUrl: 'must be a postgres:// or postgresql:// URL',
  redisUrl: 'must be a redis:// or rediss:// URL',
  redisSentinels: 'must be host:port pairs separated by commas, e.g. 10.0.0.1:26379,10.0.0.2:26379',
  redisSentinelMaster: 'must be the master\'s name as the sentinels know it (letters, digits, _ . -)',
  redisClusterNodes: 'must be host:port pairs separated by commas, e.g. 10.0.0.1:6379,10.0.0.2:6379',
  secretsKey: 'must be 32 bytes, written as base64 (43 or 44 characters) or hex (64 characters); make one with `openssl rand -base64 32`',
};

/** ajv's complaint in an operator's words. */
function complaint(key: SettingName, error: ErrorObject): string {
  switch (error.keyword) {
    case 'pattern':
    case 'format':
      return FORMS[key] ?? 'is not in the expected form';
    case 'enum':
      return `must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`;
    case 'type':
      return error.params.type === 'integer' ? 'must be a whole number' : `must be a ${String(error.params.type)}`;
    // Of a list setting's members (COOKIE_SECRETS): each is a secret, so its length is what matters.
    case 'minLength':
      return key === 'cookieSecrets'
        ? `must be secrets of at least ${String(error.params.limit)} characters each, separated by commas; make one with \`openssl rand -base64 32\``
        : `must be at least ${String(error.params.limit)} characters long`;
    default:
      return error.message ?? 'is invalid';
  }
}

function describe(error: ErrorObject, raw: Record<string, unknown>): string {
  const key = (error.instancePath.split('/')[1] ?? '') as SettingName;
  const setting = settings[key];
  const label = setting ? setting.env : key || 'configuration';
  // Connection strings and secrets may carry passwords: never echo their values.
  const secret = key === 'cookieSecrets' || key === 'secretsKey' || key === 'databaseUrl' || key === 'redisUrl'
    || (key === 'issuer' && carriesUserInfo(raw[key]));
  const shown = secret || raw[key] === undefined ? '' : ` (got ${JSON.stringify(raw[key])})`;
  return `${label} ${complaint(key, error)}${shown}`;
}

// ajv's coerceTypes turns any string Number() reads into a number: hex
// (0x1d5c), exponents (1e3), leading zeros (07262), "Infinity". A number
// is written in plain decimal digits, or it is refused, so that the value
// Gatehouse uses is the one the operator reads.
const PLAIN_INTEGER = /^-?(0|[1-9][0-9]*)$/;
const INTEGER_SETTINGS = (Object.keys(configSchema.properties) as SettingName[])
  .filter((name) => (configSchema.properties[name] as { type?: string }).type === 'integer');

/**
 * Turns integer settings written in plain decimal into numbers, and returns
 * the ones written otherwise that ajv would have coerced (the rest, such as
 * "abc", ajv refuses itself).
 */
function unplainIntegers(raw: Record<string, unknown>): SettingName[] {
  const refused: SettingName[] = [];
  for (const name of INTEGER_SETTINGS) {
    const value = raw[name];
    if (typeof value !== 'string') continue;
    if (PLAIN_INTEGER.test(value)) raw[name] = Number(value);
    else if (!Number.isNaN(Number(value))) refused.push(name);
  }
  return refused;
}

function carriesUserInfo(value: unknown): boolean {
  return typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value);
}

/**
 * What the URL pattern cannot say about ISSUER. A path is refused because
 * Gatehouse mounts its endpoints, pages and APIs at the root of its host;
 * oidc-provider would resolve its routes under the path while the routers
 * beside it do not (start-up then failed with a stack trace). User-info is
 * refused because the issuer is public: it is in discovery and in every
 * token's `iss`, and it is printed at start.
 */
function issuerProblems(issuer: string): string[] {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return [`  - ${settings.issuer.env} is not a valid URL`];
  }
  const problems: string[] = [];
  if (url.username || url.password) {
    problems.push(`  - ${settings.issuer.env} must not carry a user name or password (user:password@): the issuer is public, in discovery and in every token`);
  }
  if (url.pathname.replace(/\/+$/, '') !== '') {
    problems.push(`  - ${settings.issuer.env} must have no path (got "${url.pathname}"): Gatehouse serves its endpoints at the root of its host, and serving under a path prefix is not supported; give it a host name (or subdomain) of its own`);
  }
  return problems;
}

/**
 * REDIS_URL's database is its path (redis://host:port/2). ioredis takes
 * whatever is there and sends SELECT NaN for a word, which failed start-up
 * with Redis's own error and no setting named.
 */
function redisUrlProblems(redisUrl: string): string[] {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    return [`  - ${settings.redisUrl.env} is not a valid URL`];
  }
  // ioredis reads it from the path, else from ?db=.
  const database = url.pathname.length > 1 ? url.pathname.slice(1) : url.searchParams.get('db') ?? '';
  if (database === '' || /^(0|[1-9][0-9]{0,4})$/.test(database)) return [];
  return [`  - ${settings.redisUrl.env} must name its database as a number after the host, e.g. redis://cache:6379/2 (got database "${database}")`];
}

/** Two listeners of this process on one port: the second would find it taken by the first. */
function portProblems(raw: Record<string, unknown>): string[] {
  if (raw.metricsPort === undefined || raw.metricsPort !== raw.port) return [];
  return [`  - ${settings.metricsPort.env} must differ from ${settings.port.env} (both are ${String(raw.port)}): /metrics gets a listener of its own`];
}

/** One way to reach Redis at most, and a sentinel set always with its master's name. */
function redisProblems(raw: Record<string, unknown>): string[] {
  const ways = (['redisUrl', 'redisSentinels', 'redisClusterNodes'] as const).filter((name) => raw[name] !== undefined);
  const problems: string[] = [];
  if (ways.length > 1) {
    problems.push(`  - ${ways.map((name) => settings[name].env).join(' and ')} are set: set only one of them (a single Redis, a Sentinel set or a Cluster)`);
  }
  if (raw.redisSentinels !== undefined && raw.redisSentinelMaster === undefined) {
    problems.push(`  - ${settings.redisSentinelMaster.env} is required with ${settings.redisSentinels.env} (the master's name in the sentinels' configuration)`);
  }
  if (raw.redisSentinelMaster !== undefined && raw.redisSentinels === undefined) {
    problems.push(`  - ${settings.redisSentinelMaster.env} is set without ${settings.redisSentinels.env}`);
  }
  // A URL carries its own credentials and scheme; two places for one password would disagree.
  const tls = raw.redisTls === true || raw.redisTls === 'true';
  const credentials: string[] = (['redisUsername', 'redisPassword'] as const).filter((name) => raw[name] !== undefined).map((name) => settings[name].env);
  if (tls) credentials.push(settings.redisTls.env);
  if (credentials.length && raw.redisSentinels === undefined && raw.redisClusterNodes === undefined) {
    const where = raw.redisUrl === undefined
      ? `no Redis is set (${settings.redisUrl.env}, ${settings.redisSentinels.env} or ${settings.redisClusterNodes.env})`
      : `with ${settings.redisUrl.env}, put ${credentials.length > 1 ? 'them' : 'it'} in the URL (rediss://user:password@host:port)`;
    problems.push(`  - ${credentials.join(' and ')} ${credentials.length > 1 ? 'apply' : 'applies'} to ${settings.redisSentinels.env} or ${settings.redisClusterNodes.env} only; ${where}`);
  }
  if (raw.redisSentinelPassword !== undefined && raw.redisSentinels === undefined) {
    problems.push(`  - ${settings.redisSentinelPassword.env} is set without ${settings.redisSentinels.env}`);
  }
  return problems;
}

function validPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/**
 * Reads the configuration from the environment, applies the documented
 * defaults and validates the result. Throws a ConfigError naming every bad
 * setting, so start-up stops before anything listens.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatehouseConfig {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(settings) as SettingName[]) {
    const value = envValue(env, name) ?? settings[name].default;
    if (value !== undefined) raw[name] = value;
  }
  if (typeof raw.cookieSecrets === 'string') {
    raw.cookieSecrets = raw.cookieSecrets.split(',').map((s) => s.trim()).filter(Boolean);
  }
  for (const name of ['trustProxy', 'allowLoopbackCallbacks', 'redisTls', 'databasePreparedStatements'] as const) {
    if (typeof raw[name] !== 'string') continue;
    // ajv coerces only "true"/"false"; accept the other spellings operators use.
    const flag = (raw[name] as string).toLowerCase();
    if (['1', 'yes', 'on'].includes(flag)) raw[name] = 'true';
    if (['0', 'no', 'off'].includes(flag)) raw[name] = 'false';
  }
  for (const name of ['redisSentinels', 'redisClusterNodes'] as const) {
    if (typeof raw[name] === 'string') raw[name] = (raw[name] as string).split(',').map((s) => s.trim()).join(',');
  }
  const shown = { ...raw };
  const unplain = unplainIntegers(raw);
  // Derived from the validated number, never from the text (a PORT of
  // 0x1d5c would otherwise give the issuer http://localhost:0x1d5c). An
  // invalid PORT is reported on its own; the issuer is then a placeholder.
  const derivedIssuer = raw.issuer === undefined;
  if (derivedIssuer) raw.issuer = validPort(raw.port) ? `http://localhost:${raw.port}` : 'http://localhost';

  // One line per setting (ajv may report a pattern and a format for the same value).
  const problems = unplain.map((name) => `  - ${settings[name].env} must be a whole number written in decimal digits, e.g. ${String(settings[name].default ?? 3000)} (got ${JSON.stringify(shown[name])})`);
  const ajvErrors = validate(raw) ? [] : (validate.errors ?? []).filter((e) => !unplain.includes(e.instancePath.split('/')[1] as SettingName));
  problems.push(...new Set(ajvErrors.map((e) => `  - ${describe(e, shown)}`)));
  if (!derivedIssuer && typeof raw.issuer === 'string' && !ajvErrors.some((e) => e.instancePath === '/issuer')) problems.push(...issuerProblems(raw.issuer));
  if (typeof raw.redisUrl === 'string') problems.push(...redisUrlProblems(raw.redisUrl));
  problems.push(...portProblems(raw));
  // A key generated into the data folder would differ on every machine that
  // shares the database: with a server database the operator must give one.
  if (raw.databaseUrl !== undefined && raw.secretsKey === undefined) {
    problems.push(`  - ${settings.secretsKey.env} is required with ${settings.databaseUrl.env} (32 random bytes, e.g. \`openssl rand -base64 32\`)`);
  }
  problems.push(...redisProblems(raw));
  // Gatehouse speaks plain HTTP: an https issuer means TLS ends at a proxy,
  // and without trusting its X-Forwarded-Proto every request looks insecure
  // (secure cookies cannot be set, so sign-in would fail).
  if (typeof raw.issuer === 'string' && raw.issuer.startsWith('https:') && raw.trustProxy !== 'true' && raw.trustProxy !== true) {
    problems.push(`  - ${settings.issuer.env} is https, which needs ${settings.trustProxy.env}=true (TLS ends at your proxy or load balancer)`);
  }
  if (problems.length) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  const config = raw as unknown as GatehouseConfig;
  config.issuer = config.issuer.replace(/\/+$/, '');
  return config;
}
