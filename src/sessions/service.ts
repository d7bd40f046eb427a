import type { SignInSessionRecord, SignInSessionStore } from '../../adapters/contract.js';
import type { Actor, AuditLog } from '../audit/log.js';
import { NotFoundError } from '../errors/app-error.js';

export type SignInSession = SignInSessionRecord;

/** What ends a sign-in session at the provider (src/provider/sign-in-sessions.ts). */
export interface ProviderSessions {
  /**
   * Ends the provider's session of this uid as its own logout would: the
   * grants made in it (except those kept past logout, offline_access) are
   * revoked with their tokens, the session is destroyed, and each client
   * of it that registered a backchannel_logout_uri is sent a logout token
   * (best effort: a client that cannot be reached does not fail the end).
   * Nothing when there is no such session.
   */
  end(sessionUid: string): Promise<void>;
}

/**
 * Sign-in sessions: who is signed in to Gatehouse, from where and since
 * when, and ending them. The provider's hooks keep the index (signedIn,
 * seen, ended); the console, the account page and the CLI read and revoke
 * through here, so there is one rule for ending a session.
 */
export class SignInSessionService {
  constructor(
    private readonly store: SignInSessionStore,
    private readonly provider: ProviderSessions,
    private readonly audit?: AuditLog,
  ) {}

  signedIn(session: SignInSession): Promise<void> {
    return this.store.record(session);
  }

  seen(sessionUid: string, accountId: string, at: Date, expiresAt: Date): Promise<void> {
    return this.store.touch(sessionUid, accountId, at, expiresAt);
  }

  ended(sessionUid: string): Promise<void> {
    return this.store.remove(sessionUid);
  }

  ofAccount(accountId: string): Promise<SignInSession[]> {
    return this.store.listByAccount(accountId);
  }

  async list(options: { page: number; perPage: number }): Promise<{ total: number; sessions: SignInSession[] }> {
    const { total, items } = await this.store.list({ limit: options.perPage, offset: (options.page - 1) * options.perPage });
    return { total, sessions: items };
  }

  /** One live session; of `accountId` when given (so no one ends another account's session by its id). */
  async show(sessionUid: string, accountId?: string): Promise<SignInSession> {
    const session = await this.store.find(sessionUid);
    if (!session || (accountId !== undefined && session.accountId !== accountId)) throw new NotFoundError('no such signed-in session (it may have ended already)');
    return session;
  }

  /** Ends one session: the browser holding it is signed out of Gatehouse, and the console or account page it used with it. */
  async revoke(sessionUid: string, by: Actor = {}, accountId?: string): Promise<SignInSession> {
    const session = await this.show(sessionUid, accountId);
    await this.end(session, by);
    return session;
  }

  /**
   * Ends every session of an account but `except` (this device's); answers
   * how many ended. Every end of an account's access (a new password, a
   * deactivation, a deletion: AccountService) comes through here before the
   * storage sweeps up, so the clients signed in through these sessions are
   * told (back-channel logout), which the storage alone cannot do.
   */
  async revokeAllOf(accountId: string, by: Actor = {}, except?: string): Promise<number> {
    const sessions = (await this.store.listByAccount(accountId)).filter((session) => session.sessionUid !== except);
    for (const session of sessions) await this.end(session, by);
    return sessions.length;
  }

  private async end(session: SignInSession, by: Actor): Promise<void> {
    await this.provider.end(session.sessionUid);
    await this.store.remove(session.sessionUid);
    await this.audit?.record({ event: 'session.revoked', ...by, detail: { account_id: session.accountId, session: session.sessionUid } });
  }
}
