import { AppError, ValidationError } from '../../errors/app-error.js';
import type { ForeignAccessToken, ForeignRefreshToken, TokenImportService, TokenImportOutcome } from '../../tokens/import.js';
import type { ImportManifest } from '../manifest.js';
import { NO_PROGRESS, type Progress } from '../progress.js';
import { ImportSummary } from '../summary.js';
import type { ImportedClient } from '../../clients/service.js';
import type { DialectLifetimes } from '../../provider/lifetimes.js';
import type { ImportTargets, RowOutcome, TargetOutcome } from '../targets.js';
import type { DotApplication, DotSource, DotTable, DotUser, UserPage } from './source.js';

/**
 * Users whose password hashes Gatehouse cannot verify, one field problem per
 * user; the import stops before writing anything unless told to skip them.
 */
export class UnverifiableHashesError extends ValidationError {
  override name = 'UnverifiableHashesError';

  constructor(users: Array<{ username: string; format: string }>, more: number) {
    super([
      ...users.map((user) => ({ field: `user ${user.username}`, message: `password hash format ${user.format} cannot be verified by Gatehouse` })),
      ...(more ? [{ field: 'users', message: `and ${more} more` }] : []),
      { field: 'import', message: 'nothing was imported; re-run with --skip-unverifiable to import everyone else' },
    ]);
  }
}

export interface DotImportOptions {
  dryRun: boolean;
  skipUnverifiable: boolean;
  /** The scopes of DOT's `OAUTH2_PROVIDER['SCOPES']` setting (DOT keeps them in settings, not the database). */
  scope: string[];
  /** The DOT dialect's lifetimes, which imported clients keep; imported refresh tokens live refreshToken seconds from the import. */
  lifetimes: Required<Pick<DialectLifetimes, 'accessToken' | 'refreshToken'>>;
  progress?: Progress;
}

export interface DotImportDeps {
  targets: ImportTargets;
  tokens: TokenImportService;
  manifest: ImportManifest;
}

/** Why a refresh token whose access token is gone at the source is skipped. */
const ACCESS_TOKEN_GONE = 'its access token was revoked or deleted at the source, so django-oauth-toolkit refuses it';

// DOT's grant types (AbstractApplication.GRANT_TYPES) and what each becomes.
// DOT issues refresh tokens with the password and code grants.
const GRANT_TYPES: Record<string, string[] | undefined> = {
  password: ['password', 'refresh_token'],
  'authorization-code': ['authorization_code', 'refresh_token'],
  'client-credentials': ['client_credentials'],
};
const GTY: Record<string, string> = { password: 'password', 'authorization-code': 'authorization_code', 'client-credentials': 'client_credentials' };
const LISTED_UNVERIFIABLE = 50;
const DRY_RUN_ACCOUNT = '(account to be created)';
// Rows written at once. A constant, not a setting: an undocumented
// DOT_IN_FLIGHT of `abc` or 0 once meant no lanes, and an import that wrote
// nothing and said it was done.
const IN_FLIGHT = 16;

const epoch = (date: Date) => Math.floor(date.getTime() / 1000);
// Django stores hashed client secrets as "<algorithm>$…" (DOT 2.x); DOT 1.x's are plain text.
const looksLikeDjangoHash = (secret: string) => /^[a-z0-9_]+\$.+\$/.test(secret);

/** Runs `work` on every item of a page, at most IN_FLIGHT at a time. */
async function eachOf<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(IN_FLIGHT, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

function clientOf(app: DotApplication, scope: string[], lifetimes: DialectLifetimes): ImportedClient | string {
  const grantTypes = GRANT_TYPES[app.grantType];
  if (!grantTypes) return `grant type "${app.grantType}" is not offered by Gatehouse (RFC 9700 §2.1.2: no implicit or hybrid flows)`;
  const isPublic = app.clientType === 'public';
  return {
    clientId: app.clientId,
    name: app.name || app.clientId,
    ...(isPublic ? {} : looksLikeDjangoHash(app.clientSecret) ? { clientSecretHash: app.clientSecret } : { clientSecret: app.clientSecret }),
    public: isPublic,
    grantTypes,
    redirectUris: app.redirectUris.split(/\s+/).filter(Boolean),
    scope,
    skipConsent: app.skipAuthorization,
    dialectLifetimes: lifetimes,
  };
}

/**
 * Brings a django-oauth-toolkit service across: applications → clients,
 * users → accounts (hashes as they are), live refresh and access tokens →
 * the provider's token stores under their own values. Safe to re-run.
 */
export class DotImporter {
  private readonly progress: Progress;
  private readonly summary: ImportSummary;
  // Applications are few: the ones refused are remembered, so their tokens are skipped with the reason.
  private readonly refusedClients = new Set<string>();

  constructor(private readonly source: DotSource, private readonly deps: DotImportDeps, private readonly options: DotImportOptions) {
    this.progress = options.progress ?? NO_PROGRESS;
    this.summary = new ImportSummary(options.dryRun);
  }

  async run(): Promise<ImportSummary> {
    const unverifiable = await this.unverifiableUsers();
    if (unverifiable.count && !this.options.skipUnverifiable) {
      throw new UnverifiableHashesError(unverifiable.listed, unverifiable.count - unverifiable.listed.length);
    }
    await this.reportVanished('applications', (keys) => this.source.existing('applications', keys));
    await this.reportVanished('users', (keys) => this.source.existing('users', keys));
    await this.applications();
    await this.usersWithTheirTokens();
    return this.summary;
  }

  /** The users whose hashes cannot be verified (the first ones listed, all counted), found before anything is written. */
  private async unverifiableUsers(): Promise<{ listed: Array<{ username: string; format: string }>; count: number }> {
    const listed: Array<{ username: string; format: string }> = [];
    let count = 0;
    for await (const page of this.source.users()) {
      for (const user of page) {
        if (this.verifiable(user)) continue;
        count += 1;
        if (listed.length < LISTED_UNVERIFIABLE) listed.push({ username: user.username, format: this.deps.targets.hashFormat(user.password) });
      }
    }
    return { listed, count };
  }

  private verifiable(user: DotUser): boolean {
    return this.deps.targets.passwordHashVerifiable(user.password);
  }

  private async reportVanished(table: 'applications' | 'users', existing: (keys: string[]) => Promise<Set<string>>): Promise<void> {
    for await (const keys of this.deps.manifest.previous(table)) {
      const present = await existing(keys);
      for (const key of keys) if (!present.has(key)) this.summary.gone(table, key);
    }
  }

  private async table<T>(table: DotTable, pages: AsyncGenerator<T[]>, work: (row: T) => Promise<void>, manifestKey?: (row: T) => string | undefined) {
    this.progress.start(table, await this.source.count(table));
    const manifest = manifestKey && !this.options.dryRun ? this.deps.manifest.writer(table) : undefined;
    for await (const page of pages) {
      await eachOf(page, work);
      if (manifest) for (const row of page) { const key = manifestKey!(row); if (key) await manifest.add(key); }
      this.progress.advance(page.length);
    }
    await manifest?.close();
    this.progress.finish();
  }

  private async applications(): Promise<void> {
    await this.table('applications', this.source.applications(), async (app) => {
      const client = clientOf(app, this.options.scope, this.options.lifetimes);
      const refusal = typeof client === 'string' ? client : await this.refusal(async () => {
        return this.counted('applications', await this.deps.targets.importClient(client, { dryRun: this.options.dryRun }));
      });
      if (refusal) {
        this.refusedClients.add(app.clientId);
        this.summary.skip('applications', app.clientId, refusal);
      }
    }, (app) => (this.refusedClients.has(app.clientId) ? undefined : app.clientId));
  }

  /**
   * Users a page at a time, each page's tokens right after it: the account
   * ids are at hand, so no token needs a lookup, and memory holds one page.
   */
  private async usersWithTheirTokens(): Promise<void> {
    // One connection to the source: one query at a time.
    let total = 0;
    for (const table of ['users', 'refreshTokens', 'accessTokens'] as const) total += await this.source.count(table);
    this.progress.start('users and tokens', total);
    const manifest = this.options.dryRun ? undefined : this.deps.manifest.writer('users');
    // Two pages in flight: a page's users are written while the previous
    // page's tokens are, so the target database works on both at once.
    // Tokens depend only on their own page's users; memory holds two pages.
    let tokensInFlight: Promise<void> = Promise.resolve();
    try {
      for await (const page of this.source.users()) {
        const accountIds = await this.importUsers(page);
        for (const user of page) if (accountIds.has(user.id)) await manifest?.add(user.username);
        this.progress.advance(page.length);
        await tokensInFlight;
        tokensInFlight = this.tokensOf(page, accountIds);
        // Observed here so that a failure waits for its await, not an unhandled rejection.
        tokensInFlight.catch(() => undefined);
      }
    } catch (error) {
      // No write left running behind the error that stops the import.
      await tokensInFlight.catch(() => undefined);
      throw error;
    }
    await tokensInFlight;
    await manifest?.close();
    this.progress.finish();
    this.progress.start('client tokens', 0);
    await this.accessTokens(null, new Map());
    this.progress.finish();
  }

  /** A page of users' tokens: refresh tokens first, whose grants their access tokens share. */
  private async tokensOf(users: UserPage, accountIds: Map<string, string>): Promise<void> {
    await this.refreshTokens(users, accountIds);
    await this.accessTokens(users, accountIds);
  }

  /** A row the domain refuses (its rules, a conflict) is skipped with the domain's reason; anything else stops the import. */
  private async refusal(work: () => Promise<string | undefined>): Promise<string | undefined> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return error.message;
    }
  }

  /** Counts an outcome; a skip's reason is returned. */
  private counted(table: string, result: TargetOutcome): string | undefined {
    if (result.outcome === 'skipped') return result.reason;
    this.summary.count(table, result.outcome);
    return undefined;
  }

  /** A page of users in one batch; answers the account id of each user that came across. */
  private async importUsers(page: DotUser[]): Promise<Map<string, string>> {
    const accountIds = new Map<string, string>();
    const verifiable = page.filter((user) => {
      if (this.verifiable(user)) return true;
      this.summary.skip('users', user.username, `password hash format "${this.deps.targets.hashFormat(user.password)}" cannot be verified by Gatehouse`);
      return false;
    });
    const results = await this.deps.targets.importAccounts(verifiable.map((user) => ({
      username: user.username,
      passwordHash: user.password,
      ...(user.email ? { email: user.email } : {}),
      ...(user.firstName ? { firstName: user.firstName } : {}),
      ...(user.lastName ? { lastName: user.lastName } : {}),
      active: user.isActive,
      roles: user.isSuperuser ? ['admin'] : [],
    })), { dryRun: this.options.dryRun });
    verifiable.forEach((user, i) => {
      const result = results[i]!;
      const reason = this.counted('users', result);
      if (reason) return this.summary.skip('users', user.username, reason);
      // A dry run creates no accounts: a user it would create holds its tokens as well.
      const accountId = result.accountId ?? (this.options.dryRun ? DRY_RUN_ACCOUNT : undefined);
      if (accountId) accountIds.set(user.id, accountId);
    });
    return accountIds;
  }

  /** A page of tokens: each row checked (revoked, refused client, user not imported), then the rest imported in one batch. */
  private async tokenBatch<R extends { id: string }, T>(table: 'refreshTokens' | 'accessTokens', page: R[],
    prepare: (row: R) => T | string, importBatch: (tokens: T[]) => Promise<TokenImportOutcome[]>): Promise<void> {
    const batch: T[] = [];
    const keys: string[] = [];
    for (const row of page) {
      const token = prepare(row);
      if (typeof token === 'string') this.summary.skip(table, row.id, token);
      else { batch.push(token); keys.push(row.id); }
    }
    const outcomes = await importBatch(batch);
    outcomes.forEach((outcome, i) => this.record(table, keys[i]!, outcome));
    this.progress.advance(page.length);
  }

  private async refreshTokens(users: UserPage, accountIds: Map<string, string>): Promise<void> {
    const expiresAt = Math.floor(Date.now() / 1000) + this.options.lifetimes.refreshToken;
    for await (const page of this.source.refreshTokens(users)) {
      await this.tokenBatch('refreshTokens', page, (token): ForeignRefreshToken | string => {
        if (token.revoked) return 'revoked';
        // Only what DOT itself would still honour comes across. Revoking an
        // access token (RFC 7009, a logout) deletes its row and leaves the
        // refresh token beside it without one; DOT then refuses that refresh
        // token (get_original_scopes finds no scope), so it is as dead as a
        // revoked one, and imported it would bring a logged-out session back.
        if (token.scope === null) return ACCESS_TOKEN_GONE;
        if (this.refusedClients.has(token.clientId)) return 'its client was not imported';
        const accountId = accountIds.get(token.userId);
        if (!accountId) return 'its user was not imported';
        return {
          value: token.token, clientId: token.clientId, accountId, scope: token.scope, issuedAt: epoch(token.created),
          expiresAt, grantKey: `dot-refresh:${token.token}`, grantType: GTY[token.grantType] ?? token.grantType,
        };
      }, (batch) => this.deps.tokens.importRefreshTokens(batch, { dryRun: this.options.dryRun }));
    }
  }

  /** The access tokens of a page of users, or with `null` the client_credentials tokens (no user). */
  private async accessTokens(users: UserPage | null, accountIds: Map<string, string>): Promise<void> {
    for await (const page of this.source.accessTokens(users)) {
      await this.tokenBatch('accessTokens', page, (token): ForeignAccessToken | string => {
        if (this.refusedClients.has(token.clientId)) return 'its client was not imported';
        const accountId = token.userId === null ? undefined : accountIds.get(token.userId);
        if (token.userId !== null && !accountId) return 'its user was not imported';
        return {
          value: token.token, clientId: token.clientId, ...(accountId ? { accountId } : {}), scope: token.scope,
          issuedAt: epoch(token.created), expiresAt: epoch(token.expires),
          // An access token shares its grant with the refresh token issued beside it.
          grantKey: token.refreshToken ? `dot-refresh:${token.refreshToken}` : `dot-access:${token.token}`,
          grantType: GTY[token.grantType] ?? token.grantType,
        };
      }, (batch) => this.deps.tokens.importAccessTokens(batch, { dryRun: this.options.dryRun }));
    }
  }

  private record(table: string, key: string, result: TokenImportOutcome): void {
    if (result.outcome === 'skipped') this.summary.skip(table, key, result.reason);
    else this.summary.count(table, result.outcome satisfies RowOutcome);
  }
}
