import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import { AppError } from '../errors/app-error.js';

/** A request body as a flat map of the fields a dialect reads. */
export type Fields = Record<string, unknown>;

// Legacy token requests are a handful of short fields.
const LIMIT = '32kb';
const parser = bodyParser({
  enableTypes: ['json', 'form'],
  jsonLimit: LIMIT,
  formLimit: LIMIT,
  // JSON bodies must be objects; strict mode refuses bare strings and numbers.
  jsonStrict: true,
  // A missing content type is read as JSON: the legacy documents send JSON.
  extendTypes: { json: ['application/json', 'application/*+json'] },
});

/**
 * Reads a JSON or form-encoded body. Malformed JSON, an oversized body or
 * another content type become an AppError (400 / 413 / 415) that each dialect
 * renders in its own shape.
 */
export async function readFields(ctx: Context): Promise<Fields> {
  const type = ctx.request.type;
  if (type && !ctx.is('application/json', 'application/*+json', 'application/x-www-form-urlencoded')) {
    throw new AppError(415, 'invalid_request', `unsupported content type ${type}; send application/json or application/x-www-form-urlencoded`);
  }
  if (!type && ctx.request.length) ctx.request.headers['content-type'] = 'application/json';
  try {
    await parser(ctx, async () => {});
  } catch (error) {
    const status = (error as { status?: number }).status ?? 400;
    if (status === 413) throw new AppError(413, 'invalid_request', 'request body too large');
    throw new AppError(400, 'invalid_request', 'the request body is not valid JSON or form data');
  }
  const body = ctx.request.body as unknown;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError(400, 'invalid_request', 'the request body must be a JSON object');
  }
  return body as Fields;
}

/** A field that must be a non-empty string when present; `undefined` when absent. */
export function stringField(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new AppError(400, 'invalid_request', `${name} must be a string`);
  return value;
}
