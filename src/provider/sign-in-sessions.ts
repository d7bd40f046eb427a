import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderSessions, SignInSessionService } from '../sessions/service.js';
import { absentIfRefusedMetadata } from '../errors/provider-error.js';

/** What oidc-provider's Session carries that the index needs (its typings leave most of it out). */
interface ProviderSession {
  uid: string;
  accountId?: string;
  loginTs?: number;
  exp?: number;
  destroyed?: boolean;
  authorizations?: Record<string, { grantId?: string; persistsLogout?: boolean; sid?: string }>;
  destroy(): Promise<void>;
}

/** The longest User-Agent kept: enough to recognise a browser, not a place to store an essay. */
const USER_AGENT_MAX = 300;

/**
 * Records a sign-in in the index when it completes. That is the provider's
 * resume step after the login page (src/interactions) submitted its result:
 * only there does the session take the account, and its final uid (a
 * browser's first sign-in starts the session there).
 */
export function indexSignIns(sessions: SignInSessionService, onError: (error: unknown) => void): Middleware {
  return async (ctx, next) => {
    await next();
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    const login = (oidc?.result as { login?: { accountId?: string } } | undefined)?.login;
    const session = oidc?.session as unknown as ProviderSession | undefined;
    if (!login || !session?.accountId || session.accountId !== login.accountId || session.destroyed || !session.exp) return;
    const now = new Date();
    // A sign-in that cannot be indexed still signs in: the session works, it is only not listed.
    await sessions.signedIn({
      sessionUid: session.uid,
      accountId: session.accountId,
      signedInAt: session.loginTs ? new Date(session.loginTs * 1000) : now,
      // An IPv4 client on a dual-stack listener shows as ::ffff:a.b.c.d; people know it as a.b.c.d.
      ip: ctx.ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '') || null,
      userAgent: ctx.get('user-agent').slice(0, USER_AGENT_MAX) || null,
      lastSeenAt: now,
      expiresAt: new Date(session.exp * 1000),
    }).catch(onError);
  };
}

/**
 * Keeps the index in step with the provider's own session events: every
 * save (each authorization request the session serves) is "last seen" and
 * moves its expiry; a destroyed session (logout, an ended account) leaves it.
 * Expiry itself is never announced: the index does not answer an entry past
 * its expiry (adapters/contract.ts).
 */
export function followSessionEvents(provider: Provider, sessions: SignInSessionService, onError: (error: unknown) => void): void {
  provider.on('session.saved', (session: ProviderSession) => {
    if (session.accountId && session.exp) sessions.seen(session.uid, session.accountId, new Date(), new Date(session.exp * 1000)).catch(onError);
  });
  provider.on('session.destroyed', (session: ProviderSession) => {
    sessions.ended(session.uid).catch(onError);
  });
}

/** What oidc-provider's Client offers for OpenID Connect Back-Channel Logout (its typings leave it out). */
interface BackchannelClient {
  clientId: string;
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}

/** A client that could not be sent its logout token, and why (the token itself is never part of it). */
export type BackchannelFailure = (error: unknown, clientId: string) => void;

/**
 * Ends a provider session from outside it, as oidc-provider's end_session
 * does (lib/actions/end_session.js): the grants made in it are revoked,
 * except those that persist logout (offline_access), then it is destroyed,
 * and every client of the session that registered a backchannel_logout_uri
 * is sent a logout token (OpenID Connect Back-Channel Logout 1.0 §2.5), so
 * an RP signed in through this session signs its user out too. Every
 * server-side end of a session (the console, the CLI, /account, a new
 * password, a deactivated or deleted account) comes through here: the
 * storage can destroy a session but cannot sign a logout token.
 * A signed-in page of Gatehouse whose grant this revokes ends with it.
 *
 * The logout tokens go out after the revocation, and a client that cannot
 * be reached (oidc-provider gives each 2.5 s) is only reported to
 * `onBackchannelFailure`: an RP that is down does not keep a session alive.
 */
export function providerSessions(
  provider: Provider,
  revokeGrant: (accountId: string, grantId: string) => Promise<unknown>,
  onBackchannelFailure: BackchannelFailure,
): ProviderSessions {
  async function clientToTell(clientId: string): Promise<BackchannelClient | undefined> {
    // A client deleted since has nobody to tell (end_session skips it the same way).
    const client = await provider.Client.find(clientId).catch(absentIfRefusedMetadata) as unknown as BackchannelClient | undefined;
    return client?.backchannelLogoutUri ? client : undefined;
  }

  async function tellClients(session: ProviderSession): Promise<void> {
    const { accountId } = session;
    if (!accountId) return;
    await Promise.all(Object.entries(session.authorizations ?? {}).map(async ([clientId, { sid }]) => {
      try {
        const client = await clientToTell(clientId);
        await client?.backchannelLogout(accountId, sid);
      } catch (error) {
        onBackchannelFailure(error, clientId);
      }
    }));
  }

  return {
    async end(sessionUid) {
      const session = await (provider.Session as unknown as { findByUid(uid: string): Promise<ProviderSession | undefined> }).findByUid(sessionUid);
      if (!session) return;
      const { accountId } = session;
      for (const authorization of Object.values(session.authorizations ?? {})) {
        if (accountId && authorization.grantId && !authorization.persistsLogout) await revokeGrant(accountId, authorization.grantId);
      }
      await session.destroy();
      await tellClients(session);
    },
  };
}

/** The uid of the provider session this browser is signed in with, if any (its signed cookie, read as the provider reads it). */
export function currentSessionUid(provider: Provider): (ctx: Context) => Promise<string | undefined> {
  return async (ctx) => {
    const session = await provider.Session.get(ctx as never) as unknown as ProviderSession;
    return session.accountId ? session.uid : undefined;
  };
}
