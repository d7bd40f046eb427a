import type { DefaultState } from 'koa';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Metrics } from '../observability/metrics.js';
import type { AuditLog } from './log.js';

type Ctx = KoaContextWithOIDC & { state: DefaultState };

/** Keeps a write with the request that caused it, which then answers only once it is stored (http/audit-before-answer.ts). */
function withRequest(ctx: Ctx | undefined, write: Promise<void>): void {
  if (ctx?.state) (ctx.state.auditWrites ??= []).push(write);
}

/**
 * Feeds oidc-provider's own events to the audit trail and the metrics, so
 * every surface that goes through the provider (the standard endpoints and
 * every dialect) is counted and audited the same way.
 */
export function observeProvider(provider: Provider, audit: AuditLog, metrics: Metrics): void {
  provider.on('grant.success', (ctx: Ctx) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? 'unknown');
    metrics.tokenIssued({ grant_type: grantType, dialect: String(ctx.state.dialect ?? 'standard') });
  });

  provider.on('grant.error', (ctx: Ctx, error: { error?: string }) => {
    metrics.tokenErrors.inc({ error: error.error ?? 'server_error' });
    const grantType = ctx.oidc?.params?.grant_type;
    if (grantType === 'password' && error.error === 'invalid_grant') {
      metrics.signInFailed('password_grant');
      withRequest(ctx, audit.record({
        event: 'password_grant.failed',
        actor: typeof ctx.oidc.params?.username === 'string' ? `user:${ctx.oidc.params.username}` : null,
        clientId: ctx.oidc.client?.clientId ?? null,
        ip: ctx.ip,
      }));
    }
  });

  // The provider emits grant.error only for the errors it shows; one it
  // answers as a 500 (a storage error that is not an outage, a bug) comes as
  // server_error instead. Counted too, so an alert on token errors sees them.
  provider.on('server_error', (ctx: Ctx) => {
    if (ctx?.oidc?.route === 'token') metrics.tokenErrors.inc({ error: 'server_error' });
  });

  provider.on('grant.revoked', (ctx: Ctx, grantId: string) => {
    withRequest(ctx, audit.record({ event: 'grant.revoked', clientId: ctx.oidc?.client?.clientId ?? null, ip: ctx.ip, detail: { grant_id: grantId, route: ctx.oidc?.route } }));
  });

  for (const model of ['access_token', 'refresh_token', 'client_credentials'] as const) {
    provider.on(`${model}.destroyed` as 'access_token.destroyed', (token: { clientId?: string; grantId?: string }) => {
      // No context is passed with these; the provider's own (its AsyncLocalStorage) is the request's, when there is one.
      withRequest(Provider.ctx as Ctx | undefined, audit.record({ event: 'token.revoked', clientId: token.clientId ?? null, detail: { type: model, grant_id: token.grantId } }));
    });
  }
}
