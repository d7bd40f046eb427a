import type { Services } from '../main.js';
import { CLIENT_SECRET_MIN_LENGTH } from '../clients/given-secrets.js';
import { ConflictError, ValidationError } from '../errors/app-error.js';
import { ROLES } from '../accounts/roles.js';
import { isAuditFilterInstant } from '../audit/log.js';
import { list, oneOf, optional, positional, required, UsageError, wholeNumber } from './arguments.js';
import type { CliCommand, CliFlag } from './commands.js';
import { snakeClient, snakeRecord } from './views.js';

// The audit log's own bound on one page (src/audit/log.ts).
const AUDIT_MAX_LIMIT = 500;
const LIST: Pick<CliFlag, 'type' | 'multiple'> = { type: 'string', multiple: true };

/**
 * The commands Gatehouse had before the cut-over ones (commands.ts), in the
 * same table shape: each with its flags explained, so `gatehouse <command>
 * --help` prints them. Field names in output are snake_case throughout.
 */
export const CORE_COMMANDS: CliCommand[] = [
  {
    name: 'migrate',
    usage: '',
    summary: 'apply pending database migrations (the server also does at start-up)',
    flags: {},
    async run(services) {
      const applied = await services.storage.migrate();
      return applied ? { applied } : { applied: [], note: 'the running server applied migrations at start-up' };
    },
  },
  {
    name: 'client create',
    usage: '--name N --grant-types a,b --scope "s1 s2" [--redirect-uris u1,u2] [--public] [--token-format opaque|jwt] [--client-id ID] [--client-secret S] [--description D] [--post-logout-redirect-uris u1,u2] [--require-par] [--backchannel-logout-uri U]',
    summary: 'register a client; prints client_id and, this once, client_secret',
    flags: {
      name: { type: 'string', description: 'display name (required)' },
      'grant-types': { ...LIST, description: 'grant types, e.g. client_credentials or authorization_code,refresh_token (required)' },
      scope: { ...LIST, description: 'the scopes it may ask for, space- or comma-separated (required)' },
      'redirect-uris': { ...LIST, description: 'exact redirect URIs (required with authorization_code)' },
      public: { type: 'boolean', description: 'a public client (no secret; PKCE; not with client_credentials, password or token exchange)' },
      'token-format': { type: 'string', description: 'access token format: opaque (default) or jwt' },
      'client-id': { type: 'string', description: 'use this id instead of a new UUID (letters, digits, . _ ~ -)' },
      'client-secret': { type: 'string', secret: true, description: `a secret that exists elsewhere (at least ${CLIENT_SECRET_MIN_LENGTH} characters; - reads it from standard input) instead of a new one` },
      description: { type: 'string', description: 'what the client is for' },
      'post-logout-redirect-uris': { ...LIST, description: 'where RP-initiated logout may return to' },
      'require-par': { type: 'boolean', description: 'require pushed authorization requests (RFC 9126)' },
      'backchannel-logout-uri': { type: 'string', description: 'OpenID back-channel logout URI' },
    },
    async run(services, _args, values) {
      const format = oneOf(values, 'token-format', ['opaque', 'jwt'] as const);
      const { client, clientSecret } = await services.clients.create({
        name: required(values, 'name'),
        grantTypes: list(values['grant-types']),
        redirectUris: list(values['redirect-uris']),
        postLogoutRedirectUris: list(values['post-logout-redirect-uris']),
        scope: list(values.scope),
        public: values.public === true,
        tokenFormat: format,
        clientId: optional(values, 'client-id'),
        description: optional(values, 'description'),
        requirePushedAuthorizationRequests: values['require-par'] === true,
        backchannelLogoutUri: optional(values, 'backchannel-logout-uri'),
        clientSecret: optional(values, 'client-secret'),
      }, { actor: 'cli' });
      return snakeClient(client, clientSecret);
    },
  },
  {
    name: 'client list',
    usage: '[--name N]',
    summary: 'list clients',
    flags: { name: { type: 'string', description: 'only clients whose name contains this (case-insensitive)' } },
    async run(services, _args, values) {
      return (await services.clients.listAll({ name: optional(values, 'name') })).map((client) => snakeClient(client));
    },
  },
  {
    name: 'client show',
    usage: 'ID',
    summary: 'show one client',
    flags: {},
    async run(services, args) {
      return snakeClient(await services.clients.show(positional(args, 'a client id', 'client show')));
    },
  },
  {
    name: 'user create',
    usage: '--username U --password P [--role admin|staff|user] [--email E] [--name N]',
    summary: 'create a user (argon2id hash)',
    flags: {
      username: { type: 'string', description: 'the sign-in name (required)' },
      password: { type: 'string', secret: true, description: 'the password (required; - reads it from standard input)' },
      role: { ...LIST, description: `one of ${ROLES.join(', ')}; repeat for several (default: none; their tokens then carry role "user")` },
      email: { type: 'string', description: 'email address' },
      name: { type: 'string', description: 'display name' },
    },
    async run(services, _args, values) {
      const account = await services.accounts.create({
        username: required(values, 'username'),
        password: required(values, 'password'),
        roles: list(values.role),
        email: optional(values, 'email'),
        name: optional(values, 'name'),
      }, { actor: 'cli' });
      return { id: account.id, username: account.username, roles: account.roles, email: account.email };
    },
  },
  {
    name: 'keys rotate',
    usage: '[--alg RS256|ES256|EdDSA]',
    summary: 'add a new active signing key for that algorithm',
    flags: { alg: { type: 'string', description: 'RS256 (default), ES256 or EdDSA' } },
    async run(services, _args, values) {
      const key = await services.keys.rotate(optional(values, 'alg'), { actor: 'cli' });
      return { ...snakeRecord(key), note: `Running Gatehouse processes publish it in JWKS within seconds and sign with it from ${key.signsFrom} (SIGNING_KEY_ACTIVATION_DELAY); older keys stay in JWKS.` };
    },
  },
  {
    name: 'keys list',
    usage: '',
    summary: 'list signing keys, newest (active) first',
    flags: {},
    async run(services) {
      return (await services.keys.list()).map(snakeRecord);
    },
  },
  {
    name: 'keys retire',
    usage: 'KID [--force]',
    summary: 'stop publishing an old key (once its tokens have expired)',
    flags: { force: { type: 'boolean', description: 'retire even if tokens it signed may still be valid' } },
    async run(services, args, values) {
      const kid = positional(args, 'a key id (see keys list)', 'keys retire');
      const key = await services.keys.retire(kid, { force: values.force === true }, { actor: 'cli' }).catch((error: unknown) => {
        // Only the operator's CLI can override the wait: say how.
        if (error instanceof ValidationError && error.fields.some((problem) => problem.message.startsWith('may still have signed'))) {
          throw new ValidationError(error.fields.map((problem) => ({ ...problem, message: `${problem.message}, or pass --force` })));
        }
        throw error;
      });
      return { ...snakeRecord(key), note: 'Running Gatehouse processes stop publishing it within seconds.' };
    },
  },
  {
    name: 'audit prune',
    usage: '[--older-than DAYS]',
    summary: 'delete audit events older than DAYS (default AUDIT_RETENTION_DAYS)',
    flags: { 'older-than': { type: 'string', description: 'age in whole days, 1 to 36500' } },
    async run(services, _args, values) {
      const given = optional(values, 'older-than');
      const days = given !== undefined ? Number(given) : services.config.auditRetentionDays;
      if (!Number.isInteger(days) || days < 1 || days > 36_500) {
        throw new UsageError(given === undefined
          ? 'AUDIT_RETENTION_DAYS is 0 (keep for ever): give --older-than DAYS'
          : '--older-than must be a whole number of days, 1 to 36500');
      }
      const deleted = await services.audit.prune(days);
      // Deleting audit events is itself audited (after the deletion, so it stays).
      await services.audit.record({ event: 'audit.pruned', actor: 'cli', detail: { older_than_days: days, deleted } });
      return { deleted, older_than_days: days };
    },
  },
  {
    name: 'audit',
    usage: '[--since DATE] [--client ID] [--limit N]',
    summary: 'read the audit trail, newest first',
    flags: {
      since: { type: 'string', description: 'only events from this date or time on (ISO 8601)' },
      client: { type: 'string', description: 'only events about this client id' },
      limit: { type: 'string', description: `how many, 1 to ${AUDIT_MAX_LIMIT} (default 50)` },
    },
    async run(services, _args, values) {
      const sinceText = optional(values, 'since');
      const since = sinceText === undefined ? undefined : new Date(sinceText);
      if (since && Number.isNaN(since.getTime())) throw new UsageError('--since must be a date, e.g. 2026-11-23 or 2026-11-23T10:00:00Z');
      if (since && !isAuditFilterInstant(since)) throw new UsageError('--since must fall in the years 0001 to 9999 (UTC)');
      const limit = wholeNumber(values, 'limit', { min: 1, max: AUDIT_MAX_LIMIT, fallback: 50 });
      const { items } = await services.audit.list({ since, clientId: optional(values, 'client'), perPage: limit });
      // `detail` as the object it is, as /v2/audit and the console's export give it.
      return items.map((item) => ({ at: item.at.toISOString(), event: item.event, actor: item.actor, client_id: item.clientId, ip: item.ip, detail: item.detail }));
    },
  },
  {
    name: 'registration token',
    usage: '[--expires-in SECONDS]',
    summary: 'an initial access token for dynamic client registration (RFC 7591)',
    flags: { 'expires-in': { type: 'string', description: 'lifetime in seconds, 60 to 31536000 (default 86400)' } },
    async run(services, _args, values) {
      const given = optional(values, 'expires-in');
      const expiresIn = given === undefined ? 86_400 : Number(given);
      if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > 31_536_000) throw new UsageError('--expires-in must be 60 to 31536000 seconds');
      // Imported here, not above: it loads the engine (oidc-provider), and the table must stay cheap (commands.ts).
      const { issueInitialAccessToken } = await import('../provider/registration.js');
      const issued = await issueInitialAccessToken(services.provider, expiresIn);
      await services.audit.record({ event: 'registration.token_issued', actor: 'cli', detail: { expires_at: issued.expiresAt } });
      return { initial_access_token: issued.token, expires_at: issued.expiresAt, note: 'POST client metadata to the registration_endpoint in discovery with Authorization: Bearer <token>' };
    },
  },
  {
    name: 'scope list',
    usage: '',
    summary: 'list the scope registry',
    flags: {},
    async run(services) {
      return services.scopes.list();
    },
  },
  {
    name: 'scope add',
    usage: '--name S --description D [--warning] [--replace]',
    summary: 'add a scope to the registry',
    flags: {
      name: { type: 'string', description: 'the scope (required)' },
      description: { type: 'string', description: 'what it grants, shown on the consent page and at /v2/scopes (required)' },
      warning: { type: 'boolean', description: 'a restricted scope: never self-service, flagged on consent' },
      replace: { type: 'boolean', description: 'change an existing scope instead of refusing' },
    },
    async run(services, _args, values) {
      const scope = { name: required(values, 'name'), description: required(values, 'description'), warning: values.warning === true };
      const existing = (await services.scopes.list()).find((known) => known.name === scope.name);
      // A refusal of the request (exit 1, `conflict`), like `client create` with a taken client_id; the command line was right.
      if (existing && values.replace !== true) throw new ConflictError('name', `scope "${scope.name}" exists already: add --replace to change it`);
      return existing ? services.scopes.update(scope.name, scope, { actor: 'cli' }) : services.scopes.add(scope, { actor: 'cli' });
    },
  },
  {
    name: 'resource list',
    usage: '',
    summary: 'list registered resource servers',
    flags: {},
    async run(services) {
      return (await services.resourceServers.list()).map(snakeRecord);
    },
  },
  {
    name: 'resource add',
    usage: '--uri U --scope "s1 s2" [--token-format jwt|opaque] [--ttl SECONDS] [--signing-alg RS256|ES256|EdDSA]',
    summary: 'register (or change) a resource server (RFC 8707 audience)',
    flags: {
      uri: { type: 'string', description: 'the resource indicator, an absolute https URI (required)' },
      scope: { ...LIST, description: 'the scopes its tokens may carry (required)' },
      'token-format': { type: 'string', description: 'jwt (default) or opaque' },
      ttl: { type: 'string', description: 'access token lifetime in seconds (default: the server-wide one)' },
      'signing-alg': { type: 'string', description: 'JWS algorithm of its JWTs: RS256 (default), ES256 or EdDSA' },
    },
    async run(services, _args, values) {
      const format = oneOf(values, 'token-format', ['jwt', 'opaque'] as const);
      const ttlText = optional(values, 'ttl');
      const record = await services.resourceServers.save({
        uri: required(values, 'uri'), scope: list(values.scope), tokenFormat: format, accessTokenTtl: ttlText === undefined ? undefined : Number(ttlText),
        signingAlg: optional(values, 'signing-alg'),
      }, { actor: 'cli' });
      return snakeRecord(record);
    },
  },
  {
    name: 'resource remove',
    usage: 'URI',
    summary: 'stop issuing tokens for a resource server',
    flags: {},
    async run(services, args) {
      const uri = positional(args, 'the resource URI', 'resource remove');
      await services.resourceServers.remove(uri, { actor: 'cli' });
      return { removed: uri };
    },
  },
];

