#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { EmbeddedDatabaseBusyError } from '../../adapters/embedded/pglite.js';
import { StorageUnavailableError } from '../../adapters/factory.js';
import { SecretsKeyError } from '../../adapters/secrets-at-rest.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { AppError, ValidationError } from '../errors/app-error.js';
import { composeServices, type Services } from '../main.js';
import { pagingParameter } from '../paging/parameters.js';
import { issueInitialAccessToken } from '../provider/registration.js';
import { list, required, UsageError, type Values } from './arguments.js';
import { snakeClient } from './views.js';
import { commandFlags, commandUsage, findCommand } from './commands.js';
import { CLIENT_SECRET_MIN_LENGTH } from '../clients/service.js';

// The audit log's own bound on one page (src/audit/log.ts).
const AUDIT_MAX_LIMIT = 500;

const USAGE = `Usage: gatehouse <command> [options]   (npm run cli -- <command> …)

Commands:
  migrate                                   apply pending database migrations
  client create --name N --grant-types a,b [--redirect-uris u1,u2] [--scope "s1 s2"]
                [--public] [--token-format opaque|jwt] [--client-id ID] [--description D]
                [--post-logout-redirect-uris u1,u2] [--require-par] [--backchannel-logout-uri U]
                [--client-secret S]   a secret that exists elsewhere (at least ${CLIENT_SECRET_MIN_LENGTH} characters)
  registration token [--expires-in SECONDS]   an initial access token for dynamic registration (RFC 7591)
  client list [--name N]                    list clients (filter by name)
  client show ID                            show one client
  user create --username U --password P [--role admin] [--email E] [--name N]
  keys rotate [--alg RS256|ES256|EdDSA]     add a new active signing key for that algorithm (default RS256)
  keys list                                 list signing keys, newest (active) first
  keys retire KID [--force]                 stop publishing an old key (once its tokens have expired)
  audit [--since ISO-DATE] [--client ID] [--limit N]   read the audit trail, newest first
  audit prune [--older-than DAYS]           delete audit events older than DAYS (default AUDIT_RETENTION_DAYS)
  scope list                                list the scope registry
  scope add --name S --description D [--warning]
  resource add --uri U --scope "s1 s2" [--token-format jwt|opaque] [--ttl SECONDS] [--signing-alg RS256|ES256|EdDSA]
                                            register a resource server (RFC 8707 audience)
  resource list                             list registered resource servers
  resource remove URI                       stop issuing tokens for a resource server
${commandUsage()}

Every command accepts --json for machine-readable output.
Configuration comes from the environment (DATABASE_URL, GATEHOUSE_DATA_DIR, …), as for the server.`;


function print(json: boolean, value: unknown): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const rows = Array.isArray(value) ? value : [value];
  for (const row of rows) {
    for (const [key, field] of Object.entries(row as Record<string, unknown>)) {
      process.stdout.write(`${key}: ${Array.isArray(field) ? field.join(' ') : String(field)}\n`);
    }
    if (rows.length > 1) process.stdout.write('\n');
  }
}

async function run(services: Services, command: string[], values: Values): Promise<unknown> {
  const found = findCommand(command);
  if (found) return found.command.run(services, found.args, values);
  const [noun, verb, arg] = command;
  const command2 = noun === 'audit' && verb !== 'prune' ? 'audit' : `${noun ?? ''} ${verb ?? ''}`.trim();
  switch (command2) {
    case 'migrate':
      if (services.storage.db.kind === 'embedded-shared') return { applied: [], note: 'the running server applied migrations at start-up' };
      return { applied: await migrate(services.storage.db) };
    case 'client create': {
      const format = values['token-format'];
      const { client, clientSecret } = await services.clients.create({
        name: required(values, 'name'),
        grantTypes: list(values['grant-types']),
        redirectUris: list(values['redirect-uris']),
        postLogoutRedirectUris: list(values['post-logout-redirect-uris']),
        scope: list(values.scope),
        public: values.public === true,
        tokenFormat: format === undefined ? undefined : String(format) as 'opaque' | 'jwt',
        clientId: typeof values['client-id'] === 'string' ? values['client-id'] : undefined,
        description: typeof values.description === 'string' ? values.description : undefined,
        requirePushedAuthorizationRequests: values['require-par'] === true,
        backchannelLogoutUri: typeof values['backchannel-logout-uri'] === 'string' ? values['backchannel-logout-uri'] : undefined,
        clientSecret: typeof values['client-secret'] === 'string' ? values['client-secret'] : undefined,
      }, { actor: 'cli' });
      return snakeClient(client, clientSecret);
    }
    case 'client list': {
      const { clients } = await services.clients.list({ name: typeof values.name === 'string' ? values.name : undefined, perPage: 1000 });
      return clients.map((client) => snakeClient(client));
    }
    case 'client show':
      if (!arg) throw new UsageError('client show needs a client id');
      return snakeClient(await services.clients.show(arg));
    case 'user create': {
      const account = await services.accounts.create({
        username: required(values, 'username'),
        password: required(values, 'password'),
        roles: list(values.role),
        email: typeof values.email === 'string' ? values.email : undefined,
        name: typeof values.name === 'string' ? values.name : undefined,
      }, { actor: 'cli' });
      return { id: account.id, username: account.username, roles: account.roles, email: account.email };
    }
    case 'keys rotate': {
      const key = await services.keys.rotate(typeof values.alg === 'string' ? values.alg : undefined);
      await services.audit.record({ event: 'key.rotated', actor: 'cli', detail: { kid: key.kid } });
      return { ...key, note: 'Restart Gatehouse processes to sign with the new key; older keys stay in JWKS.' };
    }
    case 'keys retire': {
      if (!arg) throw new UsageError('keys retire needs a key id (see keys list)');
      const { config } = services;
      // The longest a token signed by the old key can live.
      const lifetime = Math.max(config.accessTokenTtl, config.clientCredentialsTtl, config.idTokenTtl,
        config.losAccessTokenTtl, config.leAccessTokenTtl, config.dotAccessTokenTtl);
      const key = await services.keys.retire(arg, lifetime, values.force === true);
      await services.audit.record({ event: 'key.retired', actor: 'cli', detail: { kid: arg, forced: values.force === true } });
      return { ...key, note: 'Restart Gatehouse processes to stop publishing it.' };
    }
    case 'audit': {
      const since = typeof values.since === 'string' ? new Date(values.since) : undefined;
      if (since && Number.isNaN(since.getTime())) throw new UsageError('--since must be a date, e.g. 2026-11-23 or 2026-11-23T10:00:00Z');
      // The one paging rule: --limit abc or 2.5 is refused, 0 or 10^20 clamps to 1…500.
      const limit = pagingParameter('--limit', values.limit, 50, AUDIT_MAX_LIMIT);
      const { items } = await services.audit.list({ since, clientId: typeof values.client === 'string' ? values.client : undefined, perPage: limit });
      return items.map((item) => ({ at: item.at.toISOString(), event: item.event, actor: item.actor, client_id: item.clientId, ip: item.ip, detail: JSON.stringify(item.detail) }));
    }
    case 'audit prune': {
      const days = typeof values['older-than'] === 'string' ? Number(values['older-than']) : services.config.auditRetentionDays;
      if (!Number.isInteger(days) || days < 1 || days > 36_500) {
        throw new UsageError(values['older-than'] === undefined
          ? 'AUDIT_RETENTION_DAYS is 0 (keep for ever): give --older-than DAYS'
          : '--older-than must be a whole number of days, 1 to 36500');
      }
      const deleted = await services.audit.prune(days);
      // Deleting audit events is itself audited (after the deletion, so it stays).
      await services.audit.record({ event: 'audit.pruned', actor: 'cli', detail: { older_than_days: days, deleted } });
      return { deleted, older_than_days: days };
    }
    case 'registration token': {
      const expiresIn = typeof values['expires-in'] === 'string' ? Number.parseInt(values['expires-in'], 10) : 86_400;
      if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > 31_536_000) throw new UsageError('--expires-in must be 60 to 31536000 seconds');
      const issued = await issueInitialAccessToken(services.provider, expiresIn);
      await services.audit.record({ event: 'registration.token_issued', actor: 'cli', detail: { expires_at: issued.expiresAt } });
      return { initial_access_token: issued.token, expires_at: issued.expiresAt, note: 'POST client metadata to the registration_endpoint in discovery with Authorization: Bearer <token>' };
    }
    case 'keys list':
      return services.keys.list();
    case 'scope list':
      return services.scopes.list();
    case 'scope add': {
      const scope = { name: required(values, 'name'), description: required(values, 'description'), warning: values.warning === true };
      await services.scopes.save(scope);
      return scope;
    }
    case 'resource list':
      return services.resourceServers.list();
    case 'resource add': {
      const format = values['token-format'];
      if (format !== undefined && format !== 'jwt' && format !== 'opaque') throw new UsageError('--token-format must be jwt or opaque');
      const ttl = typeof values.ttl === 'string' ? Number(values.ttl) : undefined;
      const record = await services.resourceServers.save({
        uri: required(values, 'uri'), scope: list(values.scope), tokenFormat: format, accessTokenTtl: ttl,
        signingAlg: typeof values['signing-alg'] === 'string' ? values['signing-alg'] : undefined,
      });
      await services.audit.record({ event: 'resource_server.saved', actor: 'cli', detail: { ...record } });
      return record;
    }
    case 'resource remove': {
      if (!arg) throw new UsageError('resource remove needs the resource URI');
      await services.resourceServers.remove(arg);
      await services.audit.record({ event: 'resource_server.removed', actor: 'cli', detail: { uri: arg } });
      return { removed: arg };
    }
    default:
      throw new UsageError(command.length ? `unknown command: ${command.join(' ')}` : 'no command given');
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...commandFlags(),
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        name: { type: 'string' },
        'grant-types': { type: 'string', multiple: true },
        'redirect-uris': { type: 'string', multiple: true },
        'post-logout-redirect-uris': { type: 'string', multiple: true },
        scope: { type: 'string', multiple: true },
        public: { type: 'boolean' },
        'token-format': { type: 'string' },
        'client-id': { type: 'string' },
        description: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        role: { type: 'string', multiple: true },
        email: { type: 'string' },
        warning: { type: 'boolean' },
        force: { type: 'boolean' },
        'require-par': { type: 'boolean' },
        'backchannel-logout-uri': { type: 'string' },
        'expires-in': { type: 'string' },
        since: { type: 'string' },
        client: { type: 'string' },
        limit: { type: 'string' },
        'older-than': { type: 'string' },
        uri: { type: 'string' },
        alg: { type: 'string' },
        'signing-alg': { type: 'string' },
        ttl: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`gatehouse: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || !positionals.length) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }

  let services: Services | undefined;
  try {
    services = await composeServices(loadConfig(), 'guest');
    print(values.json === true, await run(services, positionals, values));
    return 0;
  } catch (error) {
    if (values.json && error instanceof AppError) {
      process.stderr.write(`${JSON.stringify({ error: error.code, error_description: error.message, ...(error instanceof ValidationError ? { fields: error.fields } : {}) })}\n`);
      return 1;
    }
    if (error instanceof UsageError) {
      process.stderr.write(error.showUsage ? `gatehouse: ${error.message}\n\n${USAGE}\n` : `gatehouse: ${error.message}\n`);
      return 2;
    }
    if ([AppError, ConfigError, StorageUnavailableError, EmbeddedDatabaseBusyError, SecretsKeyError].some((kind) => error instanceof kind)) {
      process.stderr.write(`gatehouse: ${error instanceof StorageUnavailableError ? error.detail : (error as Error).message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await services?.storage.close();
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`gatehouse: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
