import type { Context } from 'koa';
import { AppError, ValidationError } from './app-error.js';

/** The RFC 6749 §5.2 error body: `error`, `error_description`, then any extra members (a ValidationError's `fields`). */
export interface Rfc6749ErrorBody {
  error: string;
  error_description: string;
  [extra: string]: unknown;
}

export function rfc6749Body(error: string, description: string, extra: Record<string, unknown> = {}): Rfc6749ErrorBody {
  return { error, error_description: description, ...extra };
}

/** Headers to set with an error; an undefined value is left unset. */
export type ErrorHeaders = Record<string, string | undefined>;

/** An AppError's body: its code and message, and a ValidationError's fields (the CLI's --json errors too). */
export function appErrorBody(error: AppError): Rfc6749ErrorBody {
  return rfc6749Body(error.code, error.message, error instanceof ValidationError ? { fields: error.fields } : {});
}

function write(ctx: Context, status: number, headers: ErrorHeaders, body: Rfc6749ErrorBody): void {
  ctx.status = status;
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) ctx.set(name, value);
  ctx.body = body;
}

/**
 * The one writer of RFC 6749 §5.2 error responses outside oidc-provider (which
 * renders its own): the status, the headers given, then the body. Every
 * Gatehouse surface that answers in this shape (the error handler, the
 * throttle, the JWT endpoints, the resource check, the dialects that kept
 * the shape) goes through here, so the shape is written once.
 */
export function writeRfc6749Error(ctx: Context, status: number, error: string, description: string, headers: ErrorHeaders = {}): void {
  write(ctx, status, headers, rfc6749Body(error, description));
}

/** An AppError in RFC 6749 shape, with the headers it calls for. */
export function writeAppErrorAsRfc6749(ctx: Context, error: AppError, headers: ErrorHeaders = {}): void {
  write(ctx, error.status, { ...error.headers, ...headers }, appErrorBody(error));
}
