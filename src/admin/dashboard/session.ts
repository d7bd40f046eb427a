import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

/**
 * The dashboard's own session: a signed, http-only cookie scoped to the
 * dashboard's path. It holds who signed in (their `sub`) and a random id for
 * CSRF tokens; roles are re-read from the account on every request.
 */
export interface DashboardSession {
  sub: string;
  name: string;
  sid: string;
  exp: number;
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
const SESSION_SECONDS = 8 * 3600;
const LOGIN_SECONDS = 600;

export class DashboardCookies {
  constructor(private readonly path: string, private readonly secure: boolean, private readonly csrfSecret: string) {}

  private write(ctx: Context, name: string, value: object | null, seconds: number): void {
    ctx.cookies.set(name, value ? Buffer.from(JSON.stringify(value)).toString('base64url') : null, {
      signed: true, httpOnly: true, sameSite: 'lax', secure: this.secure, path: this.path, maxAge: seconds * 1000, overwrite: true,
    });
  }

  private read<T extends { exp: number }>(ctx: Context, name: string): T | undefined {
    const raw = ctx.cookies.get(name, { signed: true });
    if (!raw) return undefined;
    try {
      const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T;
      return typeof value.exp === 'number' && value.exp > Date.now() / 1000 ? value : undefined;
    } catch {
      return undefined;
    }
  }

  session(ctx: Context): DashboardSession | undefined {
    return this.read<DashboardSession>(ctx, SESSION_COOKIE);
  }

  startSession(ctx: Context, sub: string, name: string): DashboardSession {
    const session = { sub, name, sid: randomBytes(16).toString('base64url'), exp: Math.floor(Date.now() / 1000) + SESSION_SECONDS };
    this.write(ctx, SESSION_COOKIE, session, SESSION_SECONDS);
    return session;
  }

  endSession(ctx: Context): void {
    this.write(ctx, SESSION_COOKIE, null, 0);
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
