import type { Context, Middleware } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { shownProviderError } from '../../errors/provider-error.js';
import type { ProviderAnswer } from '../../http/provider-endpoint.js';
import type { AdminDecision } from '../../resource-check/admin-access.js';

/** Writes one error in a dialect's wire shape. */
export type ErrorRenderer = (ctx: Context, status: number, error: string, description: string, challenge?: string) => void;

/** Every way a dialect's request can fail, each answered in the dialect's own shape by its one renderer. */
export interface DialectErrorMapping {
  /**
   * Router middleware for what the router throws: exposed AppErrors (a bad
   * body, a missing field) and oidc-provider's shown errors (above all a
   * storage outage, 503 temporarily_unavailable). Anything unexpected goes
   * on to the global handler, which logs it and answers a bare 500.
   */
  thrown: Middleware;
  /** The provider's refusal of the request the dialect handed it (its RFC 6749 answer, translated). */
  refused(ctx: Context, answer: ProviderAnswer): void;
  /** An admin gate's refusal (no token, a bad one, not an administrator). */
  denied(ctx: Context, decision: Extract<AdminDecision, { allowed: false }>): void;
}

/** The mapping for a dialect whose errors are all written by `render`. */
export function dialectErrorMapping(render: ErrorRenderer): DialectErrorMapping {
  return {
    async thrown(ctx, next) {
      try {
        await next();
      } catch (error) {
        const shown = shownProviderError(error);
        if (shown) return render(ctx, shown.status, shown.code, shown.description);
        if (!(error instanceof AppError) || !error.expose) throw error;
        render(ctx, error.status, error.code, error.message);
      }
    },
    refused(ctx, answer) {
      render(ctx, answer.status, String(answer.body.error ?? 'server_error'), String(answer.body.error_description ?? ''), answer.wwwAuthenticate);
    },
    denied(ctx, decision) {
      render(ctx, decision.status, decision.error, decision.message, decision.challenge);
    },
  };
}
