import type { DefaultState } from 'koa';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Metrics } from '../observability/metrics.js';
import { type AuditLog, typedUsernameActor } from './log.js';

type Ctx = KoaContextWithOIDC & { state: DefaultState };

/** Keeps a write with the request that caused it, which then answers only once it is stored (http/audit-before-answer.ts). */
function withRequest(ctx: Ctx | undefined, write: Promise<void>): void {
  if (ctx?.state) (ctx.state.auditWrites ??= []).push(write);
}

type ProviderClient = { clientId: string; metadata(): Record<string, unknown> };

// What an RFC 7592 update answers beside the metadata, and what the trail never holds.
const NOT_METADATA = new Set(['registration_access_token', 'registration_client_uri', 'client_secret', 'client_secret_expires_at', 'client_id_issued_at']);
// What decides what the client may do and where codes go: recorded from and to.
const DECISIVE = new Set(['scope', 'redirect_uris', 'post_logout_redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'client_name']);

/** The metadata fields an RFC 7592 update changed, and the decisive ones from and to. */
function registrationChanges(before: Record<string, unknown>, after: Record<string, unknown>): { fields: string[]; changes: Record<string, { from: unknown; to: unknown }> } {
  const fields: string[] = [];
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (NOT_METADATA.has(field) || JSON.stringify(before[field]) === JSON.stringify(after[field])) continue;
    fields.push(field);
    if (DECISIVE.has(field)) changes[field] = { from: before[field] ?? null, to: after[field] ?? null };
  }
  return { fields, changes };
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
        actor: typeof ctx.oidc.params?.username === 'string' ? typedUsernameActor(ctx.oidc.params.username) : null,
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

  // Dynamic registration (RFC 7591/7592) writes clients through the
  // provider, not the client service: audited here, alike, by the client
  // itself (its registration access token is its only credential).
  provider.on('registration_create.success', (ctx: Ctx, client: ProviderClient) => {
    const metadata = client.metadata();
    withRequest(ctx, audit.record({
      event: 'client.created', actor: 'registration', clientId: client.clientId, ip: ctx.ip,
      detail: { via: 'registration', name: metadata.client_name ?? null, grant_types: metadata.grant_types, scope: metadata.scope, redirect_uris: metadata.redirect_uris },
    }));
  });

  provider.on('registration_update.success', (ctx: Ctx, before: ProviderClient) => {
    const { fields, changes } = registrationChanges(before.metadata(), ctx.body as Record<string, unknown>);
    withRequest(ctx, audit.record({
      event: 'client.updated', actor: `client:${before.clientId}`, clientId: before.clientId, ip: ctx.ip,
      detail: { via: 'registration', fields, changes },
    }));
  });

  provider.on('registration_delete.success', (ctx: Ctx, client: ProviderClient) => {
    withRequest(ctx, audit.record({ event: 'client.deleted', actor: `client:${client.clientId}`, clientId: client.clientId, ip: ctx.ip, detail: { via: 'registration' } }));
  });

  for (const model of ['access_token', 'refresh_token', 'client_credentials'] as const) {
    provider.on(`${model}.destroyed` as 'access_token.destroyed', (token: { clientId?: string; grantId?: string }) => {
      // No context is passed with these; the provider's own (its AsyncLocalStorage) is the request's, when there is one.
      withRequest(Provider.ctx as Ctx | undefined, audit.record({ event: 'token.revoked', clientId: token.clientId ?? null, detail: { type: model, grant_id: token.grantId } }));
    });
  }
}
