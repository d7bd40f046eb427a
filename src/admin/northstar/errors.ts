import type { Context, Middleware } from 'koa';
import { AppError, ConflictError, type FieldProblem, ValidationError } from '../../errors/app-error.js';
import { shownProviderError } from '../../errors/provider-error.js';
import type { AdminDecision } from '../../resource-check/admin-access.js';

// Northstar names a client's name `title`. A Map, so that a field called
// `__proto__` or `constructor` is looked up, not an object's prototype.
const FIELD_NAMES = new Map([['name', 'title']]);

const VALIDATION_FAILED = 'The given data failed to pass validation.';

/**
 * Northstar's error shape: `{error: {code, message, fields?}}`, where
 * `fields` maps each offending field to its messages (HTTP 422).
 */
function northstarError(ctx: Context, status: number, message: string, fields?: FieldProblem[], challenge?: string): void {
  ctx.status = status;
  if (challenge) ctx.set('WWW-Authenticate', challenge);
  const byField = new Map<string, string[]>();
  for (const problem of fields ?? []) {
    const name = FIELD_NAMES.get(problem.field) ?? problem.field;
    byField.set(name, [...byField.get(name) ?? [], problem.message]);
  }
  // Object.fromEntries defines each name as the object's own field, `__proto__` included.
  ctx.body = { error: { code: status, message, ...(fields?.length ? { fields: Object.fromEntries(byField) } : {}) } };
}

/**
 * Everything the /v2 router can throw, in Northstar's shape: invalid input
 * and a taken client_id are 422s naming the field; other exposed AppErrors
 * keep their status; oidc-provider's shown errors, above all a storage
 * outage (503), too, with their description as the message. Anything
 * unexpected goes on to the global handler (a bare 500).
 */
export const northstarErrors: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (error) {
    if (error instanceof ValidationError) return northstarError(ctx, 422, VALIDATION_FAILED, error.fields);
    if (error instanceof ConflictError) return northstarError(ctx, 422, VALIDATION_FAILED, [{ field: error.field, message: error.message }]);
    if (error instanceof AppError && error.expose) return northstarError(ctx, error.status, error.message);
    const shown = shownProviderError(error);
    if (shown) return northstarError(ctx, shown.status, shown.description);
    throw error;
  }
};

/** The admin gate's refusal (401 without a valid token, 403 without admin rights), with its challenge. */
export function northstarDenied(ctx: Context, decision: Extract<AdminDecision, { allowed: false }>): void {
  northstarError(ctx, decision.status, decision.message, undefined, decision.challenge);
}
