import { createHash } from 'node:crypto';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Middleware } from 'koa';
import type { CounterStore } from '../../adapters/contract.js';
import { renderPage, type Views } from '../http/views.js';
import { type ClientIdentity, clientIdentity } from '../clients/client-identity.js';
import { wrapGrantHandler } from './grant-handlers.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

// What the user is told when the code they typed can't be used. oidc-provider
// names its re-render errors; anything else is a generic failure.
const CODE_PROBLEMS: Record<string, string> = {
  NoCodeError: 'Enter the code your device shows.',
  NotFoundError: 'That code is not right. Check it and try again.',
  ExpiredError: 'That code has expired. Start again on your device to get a new one.',
  AlreadyUsedError: 'That code has already been used. Start again on your device to get a new one.',
  AbortedError: 'You cancelled the sign-in. Your device was not connected.',
};

type ClientLike = { metadata(): object } | undefined;

/** The client as a device page shows it (clients/client-identity.ts): never its self-chosen name alone. */
function shownClient(client: ClientLike): ClientIdentity | undefined {
  return client ? clientIdentity(client.metadata() as Record<string, unknown>) : undefined;
}

/**
 * RFC 8628 pages: entering the user code, confirming the device, and the
 * final page. oidc-provider hands each source its own form (with its xsrf
 * field); the pug pages place it and add the buttons.
 */
export function deviceFlowFeature(views: Views) {
  return {
    enabled: true,
    // Unambiguous letters only (no vowels, so no words), shown as XXXX-XXXX.
    charset: 'base-20',
    mask: '****-****',
    async userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out?: unknown, err?: Error) {
      if (err?.name === 'NotFoundError') ctx.state.deviceCodeUnknown = true;
      const error = err ? (CODE_PROBLEMS[err.name] ?? 'Something went wrong. Start again on your device.') : undefined;
      renderPage(ctx, views, 'device-code', { title: 'Connect a device', form, error });
    },
    async userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client: ClientLike, _deviceInfo: unknown, userCode: string) {
      renderPage(ctx, views, 'device-confirm', { title: 'Confirm device', form, userCode, client: shownClient(client) });
    },
    async successSource(ctx: KoaContextWithOIDC) {
      renderPage(ctx, views, 'device-done', { title: 'Device connected', client: shownClient(ctx.oidc.client) });
    },
  };
}

/**
 * A code form posted without the session it was issued in (no cookie, or an
 * expired one) fails oidc-provider's xsrf check, and its error page then
 * tries to persist a session that was never saved, which throws. The user
 * is owed the same answer as for any stale form: start again.
 */
export function deviceFormWithoutSession(views: Views): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof TypeError) || !/previously persisted/.test(error.message)) throw error;
      renderPage(ctx, views, 'device-code', {
        title: 'Connect a device',
        error: 'This page has expired. Open the address your device shows again.',
        form: '',
      }, 400);
    }
  };
}

/**
 * What oidc-provider leaves to the deployment: it does not announce a
 * polling `interval` (RFC 8628 §3.2). Placed on the device authorization endpoint.
 */
export function deviceInterval(intervalSeconds: number): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') (ctx.body as Record<string, unknown>).interval = intervalSeconds;
  };
}

/**
 * oidc-provider never answers `slow_down` (RFC 8628 §3.5). Its device-code
 * grant answers `authorization_pending` by throwing; this wraps that grant
 * so a device code polled again before the interval has passed gets
 * `slow_down` instead. Polls are counted in the shared counter store, so
 * every process agrees. Other grants never see it.
 */
export function paceDevicePolling(provider: Provider, counters: CounterStore, intervalSeconds: number): void {
  wrapGrantHandler(provider, DEVICE_CODE_GRANT, (original) => async (ctx) => {
    try {
      await original(ctx);
    } catch (error) {
      const code = ctx.oidc.params?.device_code;
      if (!(error instanceof errors.AuthorizationPending) || typeof code !== 'string') throw error;
      // Keyed by a digest: the device code itself is a bearer credential.
      const key = `device-poll:${createHash('sha256').update(code).digest('base64url')}`;
      const { count } = await counters.hit(key, intervalSeconds);
      if (count > 1) throw new errors.SlowDown(`poll no more often than every ${intervalSeconds} seconds; add 5 seconds to the interval`);
      throw error;
    }
  });
}
