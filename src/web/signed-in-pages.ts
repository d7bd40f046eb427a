import { pageFormReader } from './page-form.js';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors/app-error.js';
import { renderPage, type Views } from '../http/views.js';
import type { Logger } from '../observability/logger.js';
import { type DashboardOidcClient, signInFailureReason } from './oidc-client.js';
import { ACCOUNT_PATH, ADMIN_PATH } from './paths.js';
import type { DashboardCookies, DashboardSession, SignInGrants } from './session.js';

/** Who may see a page, re-read from the account on every request (a role removed takes effect at once). */
export interface SignedInAccounts {
  findById(id: string): Promise<{ roles: string[]; active: boolean } | undefined>;
}

/**
 * The provider's sign-in session a browser holds (src/sessions,
 * src/provider/sign-in-sessions.ts), which sign-out ends on the server.
 */
export interface BrowserSignInSessions {
  /** The uid of the provider session this browser is signed in with, read from its own signed cookie; none when signed out. */
  current(ctx: Context): Promise<string | undefined>;
  /**
   * Ends it as `session revoke` and the account page do: its grants revoked,
   * the session destroyed, its clients told (back-channel logout).
   * NotFoundError when the session index does not list it.
   */
  revoke(sessionUid: string, by: { actor: string; ip: string }): Promise<unknown>;
}

export interface SignedInPagesDeps {
  issuer: string;
  oidc: DashboardOidcClient;
  cookies: DashboardCookies;
  grants: SignInGrants;
  signInSessions: BrowserSignInSessions;
  accounts: SignedInAccounts;
  views: Views;
  logger: Logger;
}

export type Form = Record<string, unknown>;

/** Body reading for the pages' forms: small, urlencoded only (see pageFormReader). */
export const readForm: Middleware = pageFormReader(32 * 1024);

/**
 * The host the browser asked for: the Host header, or the first proxy's
 * X-Forwarded-Host where proxies are trusted. Not `ctx.host`, which
 * answerAsIssuer (http/issuer-origin.ts) pins to the issuer's.
 */
function hostAsked(ctx: Context): string {
  const forwarded = ctx.app.proxy ? ctx.get('x-forwarded-host').split(',')[0]?.trim() : '';
  return forwarded || ctx.req.headers.host || '';
}

/**
 * Every redirect of these pages is a 303: a browser follows it with a GET,
 * never replaying a posted form (RFC 9700 §4.12), whatever method led here.
 */
export function seeOther(ctx: Context, location: string): void {
  ctx.redirect(location);
  ctx.status = 303;
}

/** A trimmed text field of a posted form ('' when absent or repeated). */
export function formText(form: Form, name: string): string {
  const value = form[name];
  return typeof value === 'string' ? value.trim() : '';
}

/** A field a form may repeat (checkboxes): every string value it was sent with. */
export function formList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === 'string');
}

/**
 * A service's refusal of a form (ValidationError, ConflictError) as messages
 * keyed by the form field each belongs next to; `rename` maps a service's
 * field name to the form's ('general' for the top of the form). Any other
 * error is not the user's input: it is thrown on.
 */
export function fieldErrors(error: unknown, rename: Record<string, string> = {}): Record<string, string[]> {
  const problems = error instanceof ValidationError ? error.fields
    : error instanceof ConflictError ? [{ field: error.field, message: error.message }]
      : undefined;
  if (!problems) throw error;
  const out: Record<string, string[]> = {};
  for (const { field, message } of problems) (out[rename[field] ?? field] ??= []).push(message);
  return out;
}

/** The session a page was reached with (set by requireSession). */
export function sessionOf(ctx: Context): DashboardSession {
  return ctx.state.signedIn!;
}

/** The actor an audit event names for a change made on these pages. */
export function actorOf(ctx: Context): { actor: string; ip: string } {
  return { actor: `user:${sessionOf(ctx).sub}`, ip: ctx.ip };
}

/** What every not-found page says (errorPages): never the URL's own text. */
const NOT_FOUND_PAGE = 'There is nothing here: what this link names does not exist, or no longer does.';

/**
 * The machinery every signed-in page of Gatehouse shares (the Lux client
 * dashboard, the admin console, the account page): one server-side session
 * (session.ts) started by signing in through the provider as an OIDC client
 * (oidc-client.ts), CSRF tokens bound to it, the sign-in and sign-out routes,
 * and the layout's locals. One session serves every surface, so an
 * administrator signed in to the console is signed in to the account page.
 */
export class SignedInPages {
  constructor(private readonly deps: SignedInPagesDeps) {}

  /** An absolute URL of one of Gatehouse's pages, at the issuer (for links handed to someone else). */
  absolute(path: string): string {
    return `${this.deps.issuer}${path}`;
  }

  /** Renders a page with what the layout needs: who is signed in, the CSRF token, where sign-out posts. */
  render(ctx: Context, base: string, name: string, locals: Record<string, unknown>, status = 200): void {
    const session = ctx.state.signedIn;
    renderPage(ctx, this.deps.views, name, {
      base,
      user: session?.name,
      csrf: session ? this.deps.cookies.csrfToken(session) : undefined,
      isAdmin: ctx.state.isAdmin === true,
      adminPath: ADMIN_PATH,
      accountPath: ACCOUNT_PATH,
      ...locals,
    }, status);
  }

  /**
   * Expected errors (a missing user, a refused change) as pages, not JSON.
   * A not-found page says so in fixed words: what was not found is the
   * URL's own text, and a link would have the page repeat whatever it was
   * given ("no user with id "Your session expired: sign in at …"").
   */
  errorPages(base: string, home: { href: string; label: string }): Middleware {
    return async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        if (!(error instanceof AppError) || !error.expose) throw error;
        const title = ({ 403: 'Not allowed', 404: 'Not found' } as Record<number, string>)[error.status] ?? 'Something went wrong';
        const message = error.status === 404 ? NOT_FOUND_PAGE : error.message;
        this.render(ctx, base, 'console/message', { title, message, action: home.href, actionLabel: home.label }, error.status);
      }
    };
  }

  /**
   * Only a live session gets past (its forms with their CSRF token); others
   * sign in first. A session whose provider grant was revoked (signed out of
   * Gatehouse elsewhere) or whose account was disabled or deleted ends here.
   */
  requireSession(base: string): Middleware {
    const { cookies, grants, accounts } = this.deps;
    return async (ctx, next) => {
      let session = await cookies.session(ctx);
      if (session?.grantId && !(await grants.alive(session.grantId))) {
        await cookies.endSession(ctx);
        session = undefined;
      }
      const account = session ? await accounts.findById(session.sub) : undefined;
      if (session && !account?.active) {
        await cookies.endSession(ctx);
        session = undefined;
      }
      if (!session || !account) {
        const returnTo = ctx.method === 'GET' ? ctx.originalUrl : base;
        seeOther(ctx, `${base}/login?returnTo=${encodeURIComponent(returnTo)}`);
        return;
      }
      ctx.state.signedIn = session;
      ctx.state.isAdmin = account.roles.includes('admin');
      if (ctx.method === 'POST' && !cookies.csrfValid(session, (ctx.request.body as Form | undefined)?.csrf)) {
        this.render(ctx, base, 'console/message', { title: 'Request refused', message: 'This form was not sent from Gatehouse’s own page. Reload the page and try again.' }, 403);
        return;
      }
      await next();
    };
  }

  /**
   * Only a signed-in administrator gets past. Anyone else is refused but keeps
   * the session, so the page can offer to sign out and use another account.
   */
  requireAdmin(base: string): Middleware {
    const requireSession = this.requireSession(base);
    return (ctx, next) => requireSession(ctx, async () => {
      if (!ctx.state.isAdmin) {
        this.render(ctx, base, 'console/refused', { title: 'Administrators only', who: sessionOf(ctx).name }, 403);
        return;
      }
      await next();
    });
  }

  /**
   * Ends, on the server, the provider sign-in session this browser holds,
   * whichever account it is of (the uid comes from the browser's own signed
   * cookie, as the provider's end_session reads it). False when the session
   * index does not list it, so it could not be ended here.
   */
  private async endSignInSession(ctx: Context): Promise<boolean> {
    const { signInSessions } = this.deps;
    const by = actorOf(ctx);
    const uid = await signInSessions.current(ctx);
    if (!uid) return true;
    try {
      await signInSessions.revoke(uid, by);
      return true;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /**
   * The sign-in and sign-out routes of one surface, under `base`: login,
   * callback (registered as a redirect URI of the dashboard's client),
   * sign-in-failed, logout and signed-out (its post-logout redirect URI).
   */
  mountSignIn(router: Router, base: string): void {
    const { oidc, cookies, grants, logger } = this.deps;
    const redirectUri = `${this.deps.issuer}${base}/callback`;
    const postLogoutRedirectUri = `${this.deps.issuer}${base}/signed-out`;

    /**
     * A failed sign-in: its reason goes to a page of its own (through a
     * short-lived cookie, not the URL, which anyone could write), so the
     * address bar never keeps the callback's code.
     */
    const signInFailed = (ctx: Context, reason: string): void => {
      cookies.rememberFailure(ctx, reason.slice(0, 300));
      seeOther(ctx, `${base}/sign-in-failed`);
    };

    const issuerHost = new URL(this.deps.issuer).host;
    router.get(`${base}/login`, async (ctx) => {
      // The pending sign-in is a cookie of the host the browser asked, and the
      // callback comes back to the issuer's: opened at another name for the
      // same server (127.0.0.1 for localhost), the sign-in could never finish.
      // Started again at the issuer's address, once: a proxy that rewrites
      // Host to its own name would otherwise send the browser round forever.
      if (hostAsked(ctx) !== issuerHost && ctx.query.at_issuer === undefined) {
        const query = new URLSearchParams(ctx.querystring);
        query.set('at_issuer', '1');
        seeOther(ctx, `${this.deps.issuer}${base}/login?${query}`);
        return;
      }
      const requested = typeof ctx.query.returnTo === 'string' ? ctx.query.returnTo : '';
      // Only ever return to a page of this surface (no open redirect).
      const inside = requested === base || requested.startsWith(`${base}/`) || requested.startsWith(`${base}?`);
      const returnTo = inside && !requested.startsWith('//') ? requested : base;
      const { url, verifier, state, nonce } = await oidc.start(redirectUri);
      cookies.startLogin(ctx, { verifier, state, nonce, returnTo });
      seeOther(ctx, url);
    });

    router.get(`${base}/callback`, async (ctx) => {
      const pending = cookies.pendingLogin(ctx);
      cookies.endLogin(ctx);
      if (!pending) {
        signInFailed(ctx, `This sign-in took longer than ten minutes or was started in another window, or at another address than Gatehouse's own (${this.deps.issuer}): open ${this.deps.issuer}${base} and sign in again.`);
        return;
      }
      let who: { sub: string; name: string; accessToken: string };
      try {
        who = await oidc.finish(new URL(`${this.deps.issuer}${ctx.path}?${ctx.querystring}`), pending);
      } catch (error) {
        logger.warn({ req_id: ctx.state.requestId, err: { message: (error as Error).message } }, 'dashboard sign-in failed');
        const reference = ctx.state.requestId ? ` (reference ${String(ctx.state.requestId)} in the server log)` : '';
        signInFailed(ctx, signInFailureReason(error) ?? `Gatehouse could not complete the sign-in${reference}.`);
        return;
      }
      // Admin or not, the session starts: requireAdmin refuses a non-admin on
      // every admin page, and the session lets them sign out (RP-initiated logout).
      const { accessToken, ...signedIn } = who;
      const grantId = await grants.grantOf(accessToken);
      if (!grantId) logger.warn({ req_id: ctx.state.requestId }, 'dashboard sign-in without a provider grant: the session will not end with Gatehouse’s');
      await cookies.startSession(ctx, { ...signedIn, grantId });
      seeOther(ctx, pending.returnTo);
    });

    router.get(`${base}/sign-in-failed`, async (ctx) => {
      const reason = cookies.takeFailure(ctx);
      this.render(ctx, base, 'console/sign-in-failed', {
        title: 'Sign-in failed',
        reason: reason ?? 'The sign-in could not be completed.',
        // Without the provider's metadata (the cause of some failures) the page still renders, without this link.
        signOut: await oidc.endSessionUrl(postLogoutRedirectUri).catch(() => undefined),
      }, reason ? 400 : 200);
    });

    // Ends the provider's sign-in session of this browser, then this
    // session, both on the server, so "Sign in again" asks for the password
    // (issue 15 L6) whatever the browser does next. Not through RP-initiated
    // logout alone: its id_token_hint is refused once the key that signed the
    // ID token is retired, and the browser may never follow the redirect.
    // A plain form: no JavaScript needed.
    router.post(`${base}/logout`, readForm, this.requireSession(base), async (ctx) => {
      const ended = await this.endSignInSession(ctx);
      await cookies.endSession(ctx);
      ctx.state.signedIn = undefined;
      // A session the index does not list (its sign-in could not be recorded)
      // is ended by the provider itself: RP-initiated logout by client_id,
      // which no key retirement can make it refuse.
      seeOther(ctx, ended ? `${base}/signed-out` : await oidc.endSessionUrl(postLogoutRedirectUri));
    });

    // Where sign-out ends, and the provider's post-logout redirect (where the
    // user may also have chosen to stay signed in to Gatehouse): this session
    // is gone either way. A GET ends nothing here (no cross-site logout through a link).
    router.get(`${base}/signed-out`, (ctx) => {
      this.render(ctx, base, 'console/message', { title: 'Signed out', message: 'You have signed out.', action: base, actionLabel: 'Sign in again' });
    });
  }
}
