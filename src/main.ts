import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { type AddressInfo, Server as NetServer } from 'node:net';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { openStorage, redisTarget, type Storage, StorageUnavailableError } from '../adapters/factory.js';
import { StorageRefusedError } from '../adapters/unavailable.js';
import { SecretsAtRest } from '../adapters/secrets-at-rest.js';
import type { GatehouseConfig } from '../config/schema.js';
import { accountFinder, perRequestAccounts } from './accounts/find-account.js';
import { AccountService } from './accounts/service.js';
import { ClientService } from './clients/service.js';
import { type ClientSecretVerifier, clientSecretVerifier } from './clients/secret-verification.js';
import { DialectUsage } from './clients/dialect-usage.js';
import { assetsRouter } from './http/assets.js';
import { errorHandler, logUncaughtErrors, securityHeaders, uncachedUnlessSaid } from './http/error-handler.js';
import { providerBodyChecks } from './http/raw-body.js';
import { assertPairsParsed } from './http/parameter-count.js';
import { healthRouter } from './http/health.js';
import { answerAsIssuer, inOriginForm } from './http/issuer-origin.js';
import { jwtIntrospection, jwtRevocation } from './http/jwt-token-endpoints.js';
import { extendProviderRoutes, providerRouteResolver } from './http/provider-routes.js';
import { registrationUpdateSecret, withholdStoredSecret } from './http/registration-secrets.js';
import { endTokensWhenNarrowed } from './http/registration-narrowing.js';
import { corsOnlyForAuthenticatedClients } from './http/cors-after-client-auth.js';
import { requestLog } from './http/request-log.js';
import { unauthorizedClientForGrant } from './http/unauthorized-client.js';
import { dispatchByFirstSegment } from './http/route-dispatch.js';
import { createViews, type Views } from './http/views.js';
import { interactionsRouter } from './interactions/router.js';
import { DEFAULT_SIGNING_ALG, idTokenHintLifetime, KeyService, longestServerWideLifetime } from './keys/service.js';
import { SigningKeyRefresh } from './keys/signing-key-refresh.js';
import { createLogger, type Logger } from './observability/logger.js';
import { OutageLog } from './observability/outage-log.js';
import { apiAudience, buildProvider, DEFAULT_CLIENT_AUTH_METHOD, registerTokenExchange } from './provider/build.js';
import { liveSigningKeys } from './provider/live-signing-keys.js';
import { deviceFormWithoutSession, deviceInterval, paceDevicePolling } from './provider/device-flow.js';
import { resolveSecretsKey } from './config/secrets-key.js';
import { JwtAccessTokenRegistry } from './provider/jwt-access-tokens.js';
import { keepClientsWithTheirMetadata } from './provider/client-lookup.js';
import { LiveScopeNames } from './provider/live-scopes.js';
import { primaryRole } from './accounts/roles.js';
import { createTokenCheck, providerTokenLookup, type TokenCheck } from './resource-check/token-check.js';
import { whoamiRouter } from './resource-check/whoami-router.js';
import { northstarRouter } from './admin/northstar/router.js';
import { DASHBOARD_PATH, dashboardRouter } from './admin/dashboard/router.js';
import { ADMIN_PATH } from './web/paths.js';
import { consoleRouter } from './admin/console/router.js';
import { endSessionsOfGoneAccounts } from './provider/session-accounts.js';
import { currentSessionUid, followSessionEvents, indexSignIns, providerSessions } from './provider/sign-in-sessions.js';
import { SignInSessionService } from './sessions/service.js';
import { PasswordResetLinks } from './accounts/reset-links.js';
import { accountRouter } from './account/router.js';
import { DashboardOidcClient } from './web/oidc-client.js';
import { DashboardCookies } from './web/session.js';
import { SignedInPages } from './web/signed-in-pages.js';
import { DASHBOARD_CLIENT_ID, ensureDashboardClient } from './admin/dashboard/registration.js';
import { dotRouter } from './compat/dot/router.js';
import { leRouter } from './compat/le/router.js';
import { losRouter } from './compat/los/router.js';
import { luxRouter } from './compat/lux/router.js';
import { ScopeRegistry } from './scopes/registry.js';
import { ResourceServerRegistry } from './resource-servers/registry.js';
import { AuditLog } from './audit/log.js';
import { observeProvider } from './audit/provider-events.js';
import { answerAfterAuditRecords } from './http/audit-before-answer.js';
import { Metrics } from './observability/metrics.js';
import { FailureLimiter } from './security/failure-limiter.js';
import { rfc6749Body } from './errors/rfc6749.js';
import { clientAuthThrottle } from './http/client-auth-throttle.js';
import { deviceCodeThrottle } from './http/device-code-throttle.js';
import { metricsRouter } from './http/metrics.js';

export interface Services {
  config: GatehouseConfig;
  storage: Storage;
  provider: Provider;
  keys: KeyService;
  scopes: ScopeRegistry;
  /** The scope names the provider knows, following the registry. */
  scopeNames: LiveScopeNames;
  resourceServers: ResourceServerRegistry;
  accounts: AccountService;
  clients: ClientService;
  /** Sign-in sessions by account: listed and ended by the console, the account page and the CLI. */
  sessions: SignInSessionService;
  resetLinks: PasswordResetLinks;
  /** The dialects each client obtains tokens through. */
  dialects: DialectUsage;
  cookieSecrets: string[];
  /** The resource check, shared by /api/whoami and the admin surfaces. */
  tokenCheck: TokenCheck;
  jwtAccessTokens: JwtAccessTokenRegistry;
  audit: AuditLog;
  metrics: Metrics;
  /** Brute-force protection for everything that checks a secret. */
  limiter: FailureLimiter;
  /** The published keys, kept in step with the key store once the server starts it. */
  signingKeys: SigningKeyRefresh;
  /** The kid this process signs RS256 tokens (ID tokens by default) with now. */
  signingKid: () => string | undefined;
  /** Every page's templates, compiled once on first use (http/views.ts): the provider's pages and Gatehouse's. */
  views: Views;
  /** How client authentication checks a presented secret (clients/secret-verification.ts), for the RFC 7592 update's check too. */
  verifyClientSecret: ClientSecretVerifier;
}

/**
 * Wires storage, domain services and the protocol engine. Shared by the
 * server and the CLI so both validate and store exactly the same way.
 */
export async function composeServices(config: GatehouseConfig, role: 'owner' | 'guest', logger?: Logger): Promise<Services> {
  let keys: KeyService | undefined;
  const metrics = new Metrics(async () => keys ? keys.counts() : { active: 0, published: 0, retired: 0 });
  const secrets = new SecretsAtRest(await resolveSecretsKey(config, (path) => {
    logger?.warn({ path }, 'SECRETS_KEY is not set: generated a key into the data folder; back it up with the data (without it no client secret or signing key can be read)');
  }));
  const storage = await openStorage({
    secrets,
    databaseUrl: config.databaseUrl,
    preparedStatements: config.databasePreparedStatements,
    onPreparedStatementsRefused() {
      logger?.warn('the database connection refused a prepared statement (a pooler in transaction mode that does not keep them: PgBouncer before 1.21, or max_prepared_statements = 0); going on without them. Set DATABASE_PREPARED_STATEMENTS=false, or max_prepared_statements = 200 in PgBouncer 1.21 or later');
    },
    redisConnection: {
      lost: (reason) => logger?.warn({ reason }, 'lost the connection to Redis: token requests answer 503 until it is back; reconnecting'),
      restored: () => logger?.info('the connection to Redis is back'),
    },
    redis: redisTarget(config),
    dataDir: config.dataDir,
    auditRetentionDays: config.auditRetentionDays,
    redisPrefix: config.redisPrefix,
    role,
    observe(tier, operation, seconds, failed) {
      metrics.storageDuration.observe({ tier, operation }, seconds);
      if (failed) metrics.storageErrors.inc({ tier, operation });
    },
  });
  try {
    const audit = new AuditLog(storage.audit, (error, event) => {
      logger?.error({ err: error, event: event.event }, 'audit event could not be recorded');
    });
    const scopes = new ScopeRegistry(storage.scopes, audit);
    const resourceServers = new ResourceServerRegistry(storage.resourceServers, scopes, apiAudience(config.issuer), audit);
    // Client metadata is judged by the provider's own rules; the provider is
    // built below and asked only when a client is written.
    const clients = new ClientService(storage.clients, scopes, (metadata) => provider.Client.validate(metadata), storage.clientTokens, audit, { allowLoopbackCallbacks: config.allowLoopbackCallbacks });
    keys = new KeyService(storage.keys, {
      activationDelay: config.signingKeyActivationDelay,
      // Read when a retirement is checked: resource servers and clients
      // registered since start-up, or by another process, count as soon as
      // they exist.
      reliance: async () => ({
        tokens: Math.max(
          longestServerWideLifetime(config),
          ...await Promise.all([resourceServers.longestAccessTokenTtl(), clients.longestOwnSignedLifetime()]),
        ),
        idTokenHints: idTokenHintLifetime(config),
      }),
      audit,
    });
    await keys.ensure();
    const cookieSecrets = config.cookieSecrets ?? await keys.cookieSecrets();
    const jwtAccessTokens = new JwtAccessTokenRegistry(storage.ephemeral, storage.revocations);
    const registry = await scopes.list();
    // Sessions end at the provider, built below with these accounts (`sessions` is made with it): read when an account's access ends.
    const accounts = new AccountService(storage.accounts, storage.accountTokens, audit, { revokeAllOf: (...args) => sessions.revokeAllOf(...args) },
      (text) => secrets.keyedDigest(text));
    const limiter = new FailureLimiter(storage.counters, {
      client: config.clientFailureLimit,
      user: config.userFailureLimit,
      ip: config.ipFailureLimit,
      distributed: config.distributedFailureLimit,
      windowSeconds: config.failureWindow,
      maxBackoffSeconds: config.maxBackoff,
    }, {
      engaged({ scope, subject, address }, backoffSeconds) {
        // Usernames and client ids are what was attacked, so they are recorded; secrets never are.
        return audit.record({
          event: 'rate_limit.engaged',
          actor: subject.kind === 'ip' ? null : `${subject.kind}:${subject.value.slice(0, 128)}`,
          clientId: subject.kind === 'client' ? subject.value.slice(0, 128) : null,
          ip: address ?? null,
          detail: { subject: subject.kind, scope, backoff_seconds: backoffSeconds },
        });
      },
      refused({ subject }) {
        metrics.throttled.inc({ subject: subject.kind });
      },
    });
    const initialKeys = await keys.signingKeySet();
    const accountsOfRequest = perRequestAccounts(accounts);
    const scopeNames = new LiveScopeNames(registry.map((scope) => scope.name), async () => (await scopes.list()).map((scope) => scope.name));
    const resourceIndicatorDeps = {
      scopes: scopeNames,
      findResourceServer: (uri: string) => resourceServers.find(uri),
    };
    const views = createViews();
    const verifyClientSecret = clientSecretVerifier(secrets, (clientId) => storage.clients.previousSecret(clientId), (clientId, importedHash, secret) =>
      clients.adoptProvenSecret(clientId, importedHash, secret).catch((error: unknown) => {
        logger?.warn({ err: error, client_id: clientId }, 'a client secret proved right could not replace its imported hash; tried again at the next proof');
        throw error;
      }));
    const provider = buildProvider(config, {
      ...resourceIndicatorDeps,
      limiter,
      adapter: storage.adapter,
      verifyClientSecret,
      unguardedSecretCheck: (clientId) => logger?.error({ client_id: clientId },
        'a client secret was presented on a route without client-authentication limits, and refused: that route needs the client-auth throttle (mountRoutes)'),
      authenticate: async (username, password) => (await accounts.authenticate(username, password))?.id,
      accountRole: async (ctx, accountId) => primaryRole((await accountsOfRequest(ctx, accountId))?.roles ?? []),
      jwtAccessTokens,
      firstPartyClients: new Set([DASHBOARD_CLIENT_ID]),
      findAccount: accountFinder(accountsOfRequest),
      jwks: { keys: initialKeys.keys },
      cookieKeys: cookieSecrets,
      restrictedScopes: registry.filter((scope) => scope.warning).map((scope) => scope.name),
      currentRestrictedScopes: async () => (await scopes.list()).filter((scope) => scope.warning).map((scope) => scope.name),
      views,
    });
    const replaceProviderKeys = liveSigningKeys(provider);
    // The provider made its /jwks from the keystore, in signing order; publish in the store's order from the start.
    replaceProviderKeys(initialKeys);
    const signingKeys = new SigningKeyRefresh(keys, initialKeys, (next, previous) => {
      replaceProviderKeys(next);
      const published = next.published.keys.map((key) => key.kid).filter((kid) => !previous.published.keys.some((key) => key.kid === kid));
      logger?.info({ published, signing: next.signing }, 'signing keys changed in the key store: applied without a restart');
    }, (error) => logger?.warn({ err: error }, 'signing keys could not be read; keeping the current ones'));
    keepClientsWithTheirMetadata(provider, (clientId) => storage.clients.findCached(clientId),
      // A registry that cannot be read leaves the names known: the client is then judged as before.
      (metadata) => scopeNames.cover((metadata as { scope?: unknown }).scope).catch((error: unknown) => logger?.warn({ err: error }, 'the scope registry could not be read; judging the client with the scopes known')));
    paceDevicePolling(provider, storage.counters, config.devicePollInterval);
    observeProvider(provider, audit, metrics);
    const sessions = new SignInSessionService(storage.signInSessions, providerSessions(
      provider,
      (accountId, grantId) => storage.accountTokens.revokeGrant(accountId, grantId),
      (error, clientId) => logger?.warn({ err: error, client_id: clientId }, 'a client could not be sent its back-channel logout token; the session is ended all the same'),
    ), audit);
    followSessionEvents(provider, sessions, (error) => logger?.warn({ err: error }, 'the sign-in session index could not be updated'));
    const dialects = new DialectUsage(storage.clientDialects);
    provider.on('grant.success', (ctx) => {
      const clientId = ctx.oidc.client?.clientId;
      if (clientId) dialects.note(clientId, ctx.state.dialect ?? 'standard')?.catch((error: unknown) => logger?.warn({ err: error }, 'a client’s dialect could not be noted'));
    });
    const resetLinks = new PasswordResetLinks(storage.passwordResetLinks, accounts, config.passwordResetLinkTtl, audit);
    const tokenCheck = createTokenCheck({
      issuer: config.issuer,
      // Gatehouse's own API: its audience, and the issuer's audience-less opaque tokens.
      audience: apiAudience(config.issuer),
      audiencelessAccepted: true,
      // In memory, and a new object only when the keys change (signing-key-refresh.ts).
      jwks: async () => signingKeys.current.published,
      findOpaque: providerTokenLookup(provider),
      jwtRevoked: (claims) => jwtAccessTokens.isRevoked(claims),
      clientExists: (clientId) => clients.exists(clientId),
      // A proof id is remembered for twice its acceptance window; consume is atomic.
      dpopReplay: async (jti, seconds) => {
        await storage.ephemeral.upsert('DPoPProof', jti, {}, seconds);
        return storage.ephemeral.consume('DPoPProof', jti);
      },
    });
    registerTokenExchange(provider, config, {
      ...resourceIndicatorDeps,
      tokenCheck,
      grantOf: async (token) => token.grantId
        ?? (typeof token.claims?.jti === 'string' ? (await jwtAccessTokens.find(token.claims.jti))?.grantId : undefined),
    });
    return { config, storage, provider, keys, scopes, scopeNames, resourceServers, accounts, clients, sessions, resetLinks, dialects, cookieSecrets, tokenCheck, jwtAccessTokens, audit, metrics, limiter, views, verifyClientSecret,
      signingKeys,
      // The key ID tokens (and RS256 access tokens) are signed with.
      signingKid: () => signingKeys.current.signing[DEFAULT_SIGNING_ALG],
    };
  } catch (error) {
    await storage.close().catch(() => {});
    throw error;
  }
}

export interface Gatehouse {
  services: Services;
  server: Server;
  /** The base URL the server answers on (not necessarily the issuer). */
  url: string;
  close(): Promise<void>;
}

/** Mounts Gatehouse's own routes in front of the provider's, and the provider's extensions (the caller listens). */
export async function mountRoutes(services: Services, logger: Logger, internalOrigin: () => string): Promise<void> {
  const { provider, storage, accounts, scopes, cookieSecrets, config, tokenCheck, views } = services;
  const dashboardClient = await ensureDashboardClient({
    store: storage.clients, validate: (metadata) => provider.Client.validate(metadata), audit: services.audit,
    warn: (message, detail) => logger.warn(detail, message),
  }, config.issuer, DASHBOARD_PATH);
  answerAsIssuer(provider, config.issuer);
  // Secure cookies and HSTS follow the issuer's scheme (TLS ends at a proxy in front).
  const issuerIsHttps = config.issuer.startsWith('https:');
  // One session for every signed-in page (the Lux dashboard, /admin, /account):
  // its cookie is scoped to the whole origin so that each surface sees it.
  const signedInPages = new SignedInPages({
    issuer: config.issuer,
    oidc: new DashboardOidcClient({ ...dashboardClient, issuer: config.issuer, internalOrigin }),
    cookies: new DashboardCookies('/', issuerIsHttps, cookieSecrets[0] ?? '', storage.ephemeral),
    grants: {
      grantOf: async (accessToken) => (await provider.AccessToken.find(accessToken))?.grantId,
      alive: async (grantId) => Boolean(await provider.Grant.find(grantId)),
    },
    signInSessions: { current: currentSessionUid(provider), revoke: (uid, by) => services.sessions.revoke(uid, by) },
    accounts,
    views,
    logger,
  });
  provider.use(requestLog(logger, services.metrics));
  provider.use(errorHandler(logger));
  logUncaughtErrors(provider, logger);
  provider.use(securityHeaders({ https: issuerIsHttps }));
  provider.use(answerAfterAuditRecords);
  // oidc-provider ends the response on its own paths, so these routers go in
  // front of it (Provider#use inserts before its router), in one step that
  // requests for the provider's own paths skip.
  const gatehouseRoutes = dispatchByFirstSegment([
    healthRouter(storage),
    assetsRouter(),
    interactionsRouter({ provider, accounts, scopes, views, csrfSecret: cookieSecrets[0] ?? '', audit: services.audit, limiter: services.limiter,
      signInFailed: () => services.metrics.signInFailed('login') }),
    ...(config.metricsPort === undefined ? [metricsRouter(services.metrics)] : []),
    whoamiRouter(tokenCheck, config.issuer),
    dashboardRouter({ clients: services.clients, scopes, pages: signedInPages }),
    consoleRouter({
      clients: services.clients, accounts, sessions: services.sessions, resetLinks: services.resetLinks, dialects: services.dialects,
      scopes, resourceServers: services.resourceServers, keys: services.keys, audit: services.audit,
      metrics: services.metrics, health: storage, pages: signedInPages,
    }),
    accountRouter({
      clients: services.clients, accounts, sessions: services.sessions, resetLinks: services.resetLinks, currentSession: currentSessionUid(provider), limiter: services.limiter, pages: signedInPages,
    }),
    northstarRouter({
      issuer: config.issuer, signingKid: services.signingKid, clients: services.clients, scopes, keys: services.keys, accounts, tokenCheck, audit: services.audit,
    }),
    luxRouter({ provider, clients: services.clients, accounts, tokenCheck, views, audit: services.audit }),
    losRouter({ provider, accessTokenTtl: config.losAccessTokenTtl }),
    leRouter({ provider, accessTokenTtl: config.leAccessTokenTtl }),
    dotRouter({ provider, accessTokenTtl: config.dotAccessTokenTtl, refreshTokenTtl: config.dotRefreshTokenTtl }),
  ]);
  // Requests the provider routes (in any spelling it accepts) never reach Gatehouse's routers.
  const providerRoute = providerRouteResolver(provider);
  // The provider's routes get the body checks its own reader does not make. extendProviderRoutes
  // resolves the route again: a dialect hands its request on under the provider's path.
  const checkProviderBody = providerBodyChecks();
  provider.use((ctx, next) => {
    // Every query, whoever reads it: one longer than the parser keeps is refused (parameter-count.ts).
    assertPairsParsed(ctx.querystring, 'query');
    return providerRoute(ctx.method, ctx.path) === undefined
      ? uncachedUnlessSaid(ctx, () => gatehouseRoutes(ctx, next))
      : checkProviderBody(ctx, next);
  });
  // Gatehouse's extensions of the provider's endpoints, per route and in
  // order; dialects hand their requests on to these routes too.
  // The stored metadata, as cached for the provider's own lookup: building a Client here cost 30 µs a request.
  const throttle = clientAuthThrottle(services.limiter, async (clientId) => {
    const metadata = await storage.clients.findCached(clientId);
    if (!metadata) return undefined;
    const method = metadata.token_endpoint_auth_method;
    return typeof method === 'string' ? method : DEFAULT_CLIENT_AUTH_METHOD;
  });
  const cors = corsOnlyForAuthenticatedClients;
  const unauthorizedClient = unauthorizedClientForGrant();
  // A token request reads its artifact, grant and account in one trip and
  // writes a rotation in one (adapters/request-scope.ts).
  const storageScope: Middleware = (ctx, next) => storage.requestScope(ctx, next);
  const signIns = indexSignIns(services.sessions, (error) => logger.warn({ err: error }, 'a sign-in could not be added to the session index'));
  provider.use(extendProviderRoutes(providerRoute, {
    token: [unauthorizedClient, storageScope, cors, throttle],
    introspection: [cors, throttle, jwtIntrospection(tokenCheck)],
    revocation: [cors, throttle, jwtRevocation(tokenCheck, services.jwtAccessTokens)],
    pushed_authorization_request: [cors, throttle],
    // An invalid token's answer was readable from any origin, a valid one's not: a validity oracle.
    userinfo: [cors],
    device_authorization: [unauthorizedClient, cors, throttle, deviceInterval(config.devicePollInterval)],
    // The provider's GET of the code form sets no cache policy, and its page carries the user code and a form secret.
    code_verification: [uncachedUnlessSaid, deviceFormWithoutSession(views), deviceCodeThrottle(services.limiter, views)],
    // A sign-in completes where the provider resumes after the login page.
    resume: [signIns],
    // /device/:uid without the session it belongs to fails the same way as the code form.
    device_resume: [uncachedUnlessSaid, deviceFormWithoutSession(views), signIns],
    // scopes_supported lists a scope added since start-up (provider/live-scopes.ts).
    // From memory when the registry cannot be read: discovery does not depend on storage.
    discovery: [async (_ctx, next) => {
      await services.scopeNames.refresh().catch((error: unknown) => logger.warn({ err: error }, 'the scope registry could not be read for discovery; listing the scopes known'));
      return next();
    }],
    authorization: [endSessionsOfGoneAccounts(provider, async (accountId) => Boolean((await accounts.findById(accountId))?.active))],
    // RFC 7592 with secrets stored as keyed hashes (http/registration-secrets.ts); a narrowing ends tokens as elsewhere.
    client: [withholdStoredSecret()],
    client_update: [withholdStoredSecret(), registrationUpdateSecret(provider, services.limiter, services.verifyClientSecret), endTokensWhenNarrowed(services.clients,
      (error, clientId) => logger.error({ err: error, client_id: clientId }, 'a client narrowed through RFC 7592 could not have its tokens ended; end them with an administrator change'))],
  }));
  provider.on('server_error', (ctx, error) => {
    logger.error({ req_id: ctx.state?.requestId, err: error }, 'provider server_error');
  });
}

function listen(server: Server, port: number, host?: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

/** Whether the issuer is plain http on a host other than this machine (loopback is for development). */
function servedInTheClear(issuer: string): boolean {
  const { protocol, hostname } = new URL(issuer);
  return protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(hostname) && !hostname.endsWith('.localhost') && !/^127\./.test(hostname);
}

/** Raised when a port Gatehouse should listen on is taken; the message says which setting to change. */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

async function listenOrExplain(server: Server, port: number, setting: string, host?: string): Promise<void> {
  try {
    await listen(server, port, host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new PortInUseError(`${setting}=${port}: the port is already in use (another Gatehouse, or another program); stop it or choose a free port`);
  }
}

// A stopping server gives kept-alive clients this long to send their next
// request (answered, with Connection: close) before it closes the
// connections still idle, then looks for idle ones this often. A busy
// client sends within milliseconds; a quarter second keeps a stop prompt.
const KEEP_ALIVE_DRAIN_MS = 250;
const IDLE_SWEEP_MS = 50;

/**
 * Stops accepting connections and ends keep-alive; `closed` is called once
 * the last connection has ended. An open keep-alive connection would
 * otherwise go on being served for as long as its client keeps sending, and
 * the process would run until it is killed, cutting requests short. From
 * now on every answer not yet sent, those of requests in flight included,
 * says `Connection: close` (RFC 9112 §9.6) and its connection closes once
 * it is sent; a connection still idle after
 * KEEP_ALIVE_DRAIN_MS is closed (its client is not sending).
 *
 * net.Server#close, not http.Server#close: the latter also destroys, at this
 * instant, every connection idle between two requests, and a busy client's
 * next request is then often already on its way unread: it would get a
 * reset instead of an answer.
 */
function stopServing(server: Server, unfinished: ReadonlySet<ServerResponse>, closed: () => void): void {
  // Answers still being worked on close their connection too: a client whose
  // answer said keep-alive would send its next request on a connection the
  // idle sweep below then closes under it, unanswered.
  for (const res of unfinished) endKeepAlive(res);
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => { endKeepAlive(res); });
  let sweep: NodeJS.Timeout | undefined;
  const drain = setTimeout(() => {
    server.closeIdleConnections();
    sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS).unref();
  }, KEEP_ALIVE_DRAIN_MS).unref();
  NetServer.prototype.close.call(server, () => {
    clearTimeout(drain);
    clearInterval(sweep);
    closed();
  });
}

/** `Connection: close` on `res`, and its connection closed once it is sent (unless its headers are already out). */
function endKeepAlive(res: ServerResponse): void {
  if (!res.headersSent) res.shouldKeepAlive = false;
}

/** The responses of `server` not yet sent, from now on: what a stop has to end the keep-alive of. */
function unfinishedResponses(server: Server): ReadonlySet<ServerResponse> {
  const unfinished = new Set<ServerResponse>();
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    unfinished.add(res);
    // 'close': sent, or its connection gone.
    res.once('close', () => unfinished.delete(res));
  });
  return unfinished;
}

/** What a request gets while the process is still opening its storage. */
function starting(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(rfc6749Body('temporarily_unavailable', 'Gatehouse is starting')));
}

export interface StartOptions {
  /**
   * Aborted when the process is told to stop: a start still waiting for its
   * storage, or whose storage has just opened, gives up with
   * StartAbandonedError (closing what it opened) instead of going on to serve.
   */
  stop?: AbortSignal;
}

/** A start given up because the process was told to stop before it served. */
export class StartAbandonedError extends Error {
  override name = 'StartAbandonedError';
}

// A store down at start is asked again after this long, twice as long after
// each further failure, up to the cap: prompt when an outage is short, a
// handful of attempts a minute when it is long.
const STORAGE_RETRY_FIRST_MS = 500;
const STORAGE_RETRY_MAX_MS = 10_000;

/**
 * Whether a start-up failure is a store that is down now (it comes back by
 * itself: wait for it) rather than settings that can never work (stop, so
 * that the operator hears of it; waiting would hide it). The adapters tell
 * the two apart where the driver's answer is understood: a refusal (a
 * password, a database name or number, a privilege, a replica) is a
 * StorageRefusedError.
 */
function storeDownNow(error: unknown): error is StorageUnavailableError {
  return error instanceof StorageUnavailableError && !(error instanceof StorageRefusedError);
}

/** Which store a StorageUnavailableError is about, from the setting or store its detail begins with. */
function storeNamed(error: StorageUnavailableError): string {
  if (/^(DATABASE_URL|PostgreSQL)/.test(error.detail)) return 'PostgreSQL';
  if (/^(REDIS_|Redis)/.test(error.detail)) return 'Redis';
  return 'storage';
}

/**
 * composeServices, again and again while a store is down: a server started
 * during an outage (a reboot with the database still coming up, a pooler
 * restarting) starts when the store answers instead of exiting, which a
 * supervisor would give up on after a few restarts. Meanwhile the port
 * answers 503 (`starting`). Each store that is waited for is logged once,
 * and so is its return.
 */
async function composeOnceStorageAnswers(config: GatehouseConfig, logger: Logger, stop?: AbortSignal): Promise<Services> {
  let waitingFor: string | undefined;
  const since = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    if (stop?.aborted) throw new StartAbandonedError(`stopped while waiting for ${waitingFor ?? 'storage'}`);
    try {
      const services = await composeServices(config, 'owner', logger);
      if (waitingFor) logger.info({ store: waitingFor, waited_seconds: Math.round((Date.now() - since) / 1000) }, `${waitingFor} answers: starting`);
      return services;
    } catch (error) {
      if (!storeDownNow(error)) throw error;
      const store = storeNamed(error);
      const retryMs = Math.min(STORAGE_RETRY_MAX_MS, STORAGE_RETRY_FIRST_MS * 2 ** attempt);
      if (store !== waitingFor) {
        logger.warn({ store, reason: error.detail, retry_max_seconds: STORAGE_RETRY_MAX_MS / 1000 },
          `${store} cannot be reached at start: waiting for it (every request answers 503 until then)`);
        waitingFor = store;
      } else {
        logger.debug({ store, reason: error.detail, retry_ms: retryMs }, `${store} still cannot be reached`);
      }
      try {
        await delay(retryMs, undefined, { signal: stop });
      } catch {
        throw new StartAbandonedError(`stopped while waiting for ${store}`);
      }
    }
  }
}

/** Starts one Gatehouse server process's worth of everything. */
export async function startGatehouse(config: GatehouseConfig, logger = createLogger(config.logLevel), options: StartOptions = {}): Promise<Gatehouse> {
  // The port first: a taken port is reported before any storage is created or migrated.
  // Slowloris and idle-connection bounds. Node enforces the two timeouts
  // only when it checks its connections (every 30 s by default), so a slow
  // body was held up to 60 s; checked every 5 s, it is ended within 35.
  const server = createServer({ headersTimeout: 20_000, requestTimeout: 30_000, connectionsCheckingInterval: 5_000 }, starting);
  const unfinished = unfinishedResponses(server);
  await listenOrExplain(server, config.port, 'PORT');
  let services: Services;
  try {
    services = await composeOnceStorageAnswers(config, logger, options.stop);
    // Opening storage is most of a start (seconds for a new embedded
    // database on a busy machine): a stop asked for meanwhile ends it here,
    // rather than serving first and then racing the shutdown's grace period.
    if (options.stop?.aborted) {
      await services.storage.close().catch(() => {});
      throw new StartAbandonedError('stopped while storage was opening');
    }
  } catch (error) {
    server.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  // Metrics on their own loopback port keep them off the public listener.
  const metricsServer = config.metricsPort === undefined ? undefined : createServer((req, res) => {
    if (req.url !== '/metrics') { res.statusCode = 404; res.end(); return; }
    services.metrics.text().then((text) => {
      res.setHeader('Content-Type', services.metrics.registry.contentType);
      res.end(text);
    }, () => { res.statusCode = 500; res.end(); });
  });
  // Stop accepting, let in-flight requests finish, then stop the background
  // work and close the pools: on close, and when start-up fails part-way.
  const shutdown = async () => {
    await new Promise<void>((resolve) => { stopServing(server, unfinished, resolve); });
    metricsServer?.close();
    await services.signingKeys.stop();
    await services.storage.close();
  };
  try {
    await mountRoutes(services, logger, () => origin);
    if (metricsServer) await listenOrExplain(metricsServer, config.metricsPort!, 'METRICS_PORT', '127.0.0.1');
    // One outage of the durable tier, however many background tasks meet it, is two log lines.
    const durableOutage = new OutageLog(logger, config.databaseUrl ? 'PostgreSQL' : 'the embedded database');
    services.signingKeys.start(durableOutage);
    services.jwtAccessTokens.watchRevocations();
    services.storage.startSweeper(config.sweepInterval, (error) => {
      if (!durableOutage.unavailable(error)) logger.warn({ err: error }, 'sweep failed');
    }, () => durableOutage.available());
    server.off('request', starting);
    server.on('request', inOriginForm(services.provider.callback()));
    await services.storage.share();
  } catch (error) {
    await shutdown().catch(() => {});
    throw error;
  }
  if (servedInTheClear(config.issuer)) {
    logger.warn({ issuer: config.issuer }, 'ISSUER is http on a host other than this machine: cookies, codes and tokens would cross the network in the clear (RFC 9700 requires TLS); serve Gatehouse behind HTTPS and set ISSUER to its https URL');
  }
  logger.info({
    port, issuer: config.issuer, storage: services.storage.description,
    next: `create an administrator (npm run -s cli -- user create --username admin --password - --role admin, then type the password), then open the admin console at ${config.issuer}${ADMIN_PATH}; discovery: ${config.issuer}/.well-known/openid-configuration`,
  }, `gatehouse listening on port ${port} as ${config.issuer}`);

  let closing: Promise<void> | undefined;
  return {
    services,
    server,
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
