import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { originCookieName } from '../http/cookie-names.js';
import type { Context } from 'koa';

/**
 * The dashboard's own session. The browser holds only a signed, http-only
 * cookie (scoped to the dashboard's path) naming a random session id; who
 * signed in lives in a server-side record in the ephemeral store that every
 * process shares, so signing out deletes it and a replayed cookie finds
 * nothing (OWASP Session Management: invalidate on logout, server side).
 * Roles are re-read from the account on every request.
 */
export interface DashboardSession {
  sub: string;
  name: string;
  /** The random id in the cookie; CSRF tokens derive from it. */
  sid: string;
  exp: number;
  /** The provider's grant behind the sign-in (see SignInGrants). */
  grantId?: string;
}

/**
 * The provider's grant behind a dashboard sign-in. Signing out of Gatehouse
 * anywhere (its end_session endpoint, from any application) revokes the
 * grants made in that sign-in session, so a dashboard session that checks
 * its grant on every request ends with it.
 */
export interface SignInGrants {
  /** The grant an access token issued to the dashboard belongs to. */
  grantOf(accessToken: string): Promise<string | undefined>;
  alive(grantId: string): Promise<boolean>;
}

/** Where session records live: the storage contract's payload store (adapters/contract.ts). */
export interface SessionRecords {
  upsert(model: string, id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
  find(model: string, id: string): Promise<Record<string, unknown> | undefined>;
  destroy(model: string, id: string): Promise<void>;
}

/** The in-flight login: PKCE verifier, state and nonce, for ten minutes. */
export interface PendingLogin {
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
  exp: number;
}

const SESSION_COOKIE = 'gh_dashboard';
const LOGIN_COOKIE = 'gh_dashboard_login';
const FAILURE_COOKIE = 'gh_dashboard_failure';
const SESSION_MODEL = 'DashboardSession';
const SESSION_SECONDS = 8 * 3600;
const LOGIN_SECONDS = 600;
const FAILURE_SECONDS = 60;

/** The cookie names the session record by its id's hash, so a copy of the store holds no cookie value. */
function recordId(sid: string): string {
  return createHash('sha256').update(sid).digest('base64url');
}

export class DashboardCookies {
  constructor(
    private readonly path: string,
    private readonly secure: boolean,
    private readonly csrfSecret: string,
    private readonly records: SessionRecords,
  ) {}

  /** `__Host-` over https when the cookies are the whole origin's (http/cookie-names.ts). */
  private named(name: string): string {
    return this.path === '/' ? originCookieName(name, this.secure) : name;
  }

  private write(ctx: Context, name: string, value: object | null, seconds: number): void {
    ctx.cookies.set(this.named(name), value ? Buffer.from(JSON.stringify(value)).toString('base64url') : null, {
      signed: true, httpOnly: true, sameSite: 'lax', secure: this.secure, path: this.path, maxAge: seconds * 1000, overwrite: true,
    });
  }

  private read<T extends { exp: number }>(ctx: Context, name: string): T | undefined {
    const raw = ctx.cookies.get(this.named(name), { signed: true });
    if (!raw) return undefined;
    try {
      const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T;
      return typeof value.exp === 'number' && value.exp > Date.now() / 1000 ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** The live session the cookie names: none once it was ended, whatever the cookie says. */
  async session(ctx: Context): Promise<DashboardSession | undefined> {
    const cookie = this.read<{ sid: string; exp: number }>(ctx, SESSION_COOKIE);
    if (typeof cookie?.sid !== 'string') return undefined;
    const record = await this.records.find(SESSION_MODEL, recordId(cookie.sid));
    if (!record || typeof record.sub !== 'string' || typeof record.exp !== 'number' || record.exp <= Date.now() / 1000) return undefined;
    return {
      sub: record.sub,
      name: String(record.name ?? record.sub),
      sid: cookie.sid,
      exp: record.exp,
      ...(typeof record.grantId === 'string' ? { grantId: record.grantId } : {}),
    };
  }

  /** Starts a session, ending any this browser had (no session fixation across sign-ins). */
  async startSession(ctx: Context, who: { sub: string; name: string; grantId?: string }): Promise<DashboardSession> {
    await this.endSession(ctx);
    const session: DashboardSession = { ...who, sid: randomBytes(32).toString('base64url'), exp: Math.floor(Date.now() / 1000) + SESSION_SECONDS };
    const { sid, ...record } = session;
    await this.records.upsert(SESSION_MODEL, recordId(sid), record, SESSION_SECONDS);
    this.write(ctx, SESSION_COOKIE, { sid, exp: session.exp }, SESSION_SECONDS);
    return session;
  }

  /** Deletes the server-side record (so a copy of the cookie is worthless) and the cookie. */
  async endSession(ctx: Context): Promise<void> {
    const cookie = this.read<{ sid: string; exp: number }>(ctx, SESSION_COOKIE);
    if (typeof cookie?.sid === 'string') await this.records.destroy(SESSION_MODEL, recordId(cookie.sid));
    if (ctx.cookies.get(this.named(SESSION_COOKIE))) this.write(ctx, SESSION_COOKIE, null, 0);
  }

  /** Why the last sign-in failed, for the page the callback redirects to (so its URL holds no code). */
  rememberFailure(ctx: Context, reason: string): void {
    this.write(ctx, FAILURE_COOKIE, { reason, exp: Math.floor(Date.now() / 1000) + FAILURE_SECONDS }, FAILURE_SECONDS);
  }

  takeFailure(ctx: Context): string | undefined {
    const failure = this.read<{ reason: string; exp: number }>(ctx, FAILURE_COOKIE);
    if (ctx.cookies.get(this.named(FAILURE_COOKIE))) this.write(ctx, FAILURE_COOKIE, null, 0);
    return typeof failure?.reason === 'string' ? failure.reason : undefined;
  }

  pendingLogin(ctx: Context): PendingLogin | undefined {
    return this.read<PendingLogin>(ctx, LOGIN_COOKIE);
  }

  startLogin(ctx: Context, login: Omit<PendingLogin, 'exp'>): void {
    this.write(ctx, LOGIN_COOKIE, { ...login, exp: Math.floor(Date.now() / 1000) + LOGIN_SECONDS }, LOGIN_SECONDS);
  }

  endLogin(ctx: Context): void {
    this.write(ctx, LOGIN_COOKIE, null, 0);
  }

  csrfToken(session: DashboardSession): string {
    return createHmac('sha256', this.csrfSecret).update(`dashboard:${session.sid}`).digest('base64url');
  }

  csrfValid(session: DashboardSession, presented: unknown): boolean {
    if (typeof presented !== 'string') return false;
    const expected = Buffer.from(this.csrfToken(session));
    const actual = Buffer.from(presented);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
