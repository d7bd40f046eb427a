import type { Context, Middleware } from 'koa';
import { AppError } from '../../errors/app-error.js';
import { shownProviderError } from '../../errors/provider-error.js';

/** Writes one error in a dialect's wire shape. */
export type ErrorRenderer = (ctx: Context, status: number, error: string, description: string, challenge?: string) => void;

/**
 * Maps the AppErrors a dialect's router throws (bad body, missing field), and
 * a storage outage (503 temporarily_unavailable), to that dialect's error shape. Anything unexpected goes on to the global
 * handler, which logs it and answers a bare 500.
 */
export function dialectErrors(render: ErrorRenderer): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const shown = shownProviderError(error);
      if (shown) return render(ctx, shown.status, shown.code, shown.description);
      if (!(error instanceof AppError) || !error.expose) throw error;
      render(ctx, error.status, error.code, error.message);
    }
  };
}
