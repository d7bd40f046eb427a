import type { Actor } from './audit/log.js';
import type { ProviderRoute } from './http/provider-routes.js';
import type { DashboardSession } from './web/session.js';
import type { TokenInfo } from './resource-check/token-check.js';

/** The legacy surface a request came through; `standard` when none. */
export type Dialect = 'lux' | 'los' | 'le' | 'dot';

/**
 * Token lifetimes a legacy dialect promises its clients (django-oauth-toolkit:
 * 10 minutes / 1 day; LOS: 3600 s). A dialect sets them on the request before
 * handing it to the provider; the provider's `ttl` functions read them, so
 * the tokens are the provider's own, only shorter- or longer-lived.
 */
export interface DialectLifetimes {
  accessToken?: number;
  clientCredentials?: number;
  refreshToken?: number;
}

/**
 * Everything Gatehouse keeps about one request, in one declared shape: Koa's
 * `ctx.state`, typed for every middleware and router (and the provider's
 * configuration functions, which see the same context). Who sets each field
 * is named beside it.
 */
declare module 'koa' {
  interface DefaultState {
    /** http/provider-routes.ts: the provider route this request reaches and its parameters, for the steps that extend it. */
    providerRoute?: ProviderRoute;
    /** http/request-log.ts: the request id (an incoming X-Request-Id is kept). */
    requestId?: string;
    /** The dialect that hands this request to the provider (compat/*), for logs and metrics. */
    dialect?: Dialect;
    /**
     * http/provider-endpoint.ts: the form a dialect hands the provider, as
     * already parsed, while the provider runs. Steps before the provider
     * (the client-auth throttle) read it here instead of reading the body
     * the provider is about to read.
     */
    providerForm?: Readonly<Record<string, string>>;
    /** The dialect's documented token lifetimes (provider/lifetimes.ts reads them). */
    lifetimes?: DialectLifetimes;
    /** Lux's authorize path: a confidential client may go without PKCE here (provider/pkce-exemption.ts). */
    pkceExempt?: boolean;
    /**
     * http/client-auth-throttle.ts: called by the provider's client secret
     * check (provider/build.ts) once the presented secret is proven right,
     * so the request gives up its place among the unsettled attempts.
     */
    clientSecretProven?: () => void;
    /** provider/device-flow.ts: the user code entered on the device page matched no device (http/device-code-throttle.ts counts it). */
    deviceCodeUnknown?: boolean;
    /** The presented access token, once the resource check or an admin gate accepted it. */
    token?: TokenInfo;
    /** web/signed-in-pages.ts: the signed-in page session (the Lux dashboard, /admin, /account), once its cookie is accepted. */
    signedIn?: DashboardSession;
    /** web/signed-in-pages.ts: whether that session's account has the admin role. */
    isAdmin?: boolean;
    /** The administrator acting, for the audit trail (http/admin-gate.ts). */
    actor?: Actor;
    /**
     * audit/provider-events.ts: audit records of this request written from
     * the provider's events, which cannot be awaited where they are emitted;
     * http/audit-before-answer.ts answers once they are stored.
     */
    auditWrites?: Array<Promise<void>>;
  }
}
