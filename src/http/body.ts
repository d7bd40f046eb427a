import type { Context } from 'koa';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AppError, type FieldProblem, PayloadTooLargeError, ValidationError } from '../errors/app-error.js';
import { parseJsonBody } from './json-body.js';
import { bodyCharset, readFormFields, readRaw } from './raw-body.js';

/** A request body as a flat map of the fields a dialect reads. */
export type Fields = Record<string, unknown>;

// Legacy token requests are a handful of short fields.
const LIMIT = 32 * 1024;

/**
 * Reads a JSON or form-encoded body (a body without a content type is read
 * as JSON, which is what the legacy documents send). A form is read in the
 * charset its Content-Type declares (UTF-8, ISO-8859-1 or US-ASCII; UTF-8
 * when it declares none), JSON in UTF-8 only (RFC 8259 §8.1): see
 * bodyCharset. Malformed JSON (and JSON with a name given twice or half a
 * surrogate pair: parseJsonBody), an oversized body, another content type or
 * charset, or any Content-Encoding but identity become an AppError (400 /
 * 413 / 415) that each dialect renders in its own shape; a client that hangs up mid-body, a ClientGoneError (readRaw). Form fields stay flat
 * (`a[b]` is a field name, not nesting) and repeated ones become lists, which
 * the schemas then refuse. Read here rather than by a general body parser:
 * these few lines are on every legacy token request, and the schema after
 * them does the checking.
 */
export async function readFields(ctx: Context): Promise<Fields> {
  const type = ctx.request.type;
  const json = !type || Boolean(ctx.is('application/json', 'application/*+json'));
  if (!json && !ctx.is('application/x-www-form-urlencoded')) {
    throw new AppError(415, 'invalid_request', `unsupported content type ${type}; send application/json or application/x-www-form-urlencoded`);
  }
  if (!json) return readFormFields(ctx, LIMIT);
  // Refuses any charset but UTF-8 (RFC 8259 §8.1).
  bodyCharset(ctx.get('content-type'), true);
  const raw = await readRaw(ctx.req, LIMIT);
  if (!raw) throw new PayloadTooLargeError();
  if (!raw.length) return {};
  const body = parseJsonBody(raw.toString('utf8'));
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
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

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true });

// Names that would reach an object's prototype if a body were ever merged
// into one with Object.assign or a deep merge: refused outright.
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];
// Legacy requests are flat; a little nesting for the admin APIs' arrays.
const MAX_DEPTH = 4;

// No NUL: nothing downstream (PostgreSQL text, logs, headers) can hold one.
const NO_NUL = '^[^\\u0000]*$';

/** A string field of at most `maxLength` characters (null allowed where `nullable`). */
export const text = (maxLength: number, nullable = false) => ({ type: nullable ? ['string', 'null'] : 'string', maxLength, pattern: NO_NUL });
/** A list of strings (null allowed where `nullable`). */
export const textList = (maxItems: number, maxLength: number, nullable = false) => ({
  type: nullable ? ['array', 'null'] : 'array', maxItems, items: { type: 'string', maxLength, pattern: NO_NUL },
});

/**
 * The schema of a request body: the fields an endpoint reads, their types
 * and bounds. Other fields are allowed and ignored (as OAuth requires of
 * unknown parameters) but may not be objects nesting deeper than MAX_DEPTH.
 */
export function bodySchema(properties: Record<string, object>): ValidateFunction {
  return ajv.compile({
    type: 'object',
    properties,
    propertyNames: { not: { enum: FORBIDDEN_KEYS } },
    maxProperties: 64,
  });
}

/** How deeply objects nest in `value` (a flat body is 1), counted no further than past MAX_DEPTH. */
function depthOf(value: unknown, depth = 0): number {
  if (value === null || typeof value !== 'object') return depth;
  let deepest = depth + 1;
  for (const child of Object.values(value)) {
    if (deepest > MAX_DEPTH) break;
    if (child !== null && typeof child === 'object') deepest = Math.max(deepest, depthOf(child, depth + 1));
  }
  return deepest;
}

function fieldOf(error: ErrorObject): string {
  if (error.keyword === 'propertyNames') return String((error.params as { propertyName?: string }).propertyName ?? 'body');
  return error.instancePath.split('/')[1] || 'body';
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'propertyNames') return 'is not an allowed field name';
  if (error.keyword === 'maxLength') return `must be at most ${String((error.params as { limit: number }).limit)} characters`;
  if (error.keyword === 'maxItems') return `must have at most ${String((error.params as { limit: number }).limit)} items`;
  if (error.keyword === 'maxProperties') return 'has too many fields';
  if (error.keyword === 'pattern') return 'must not contain NUL characters';
  if (error.keyword === 'type') {
    const types = ([] as string[]).concat((error.params as { type: string | string[] }).type).filter((t) => t !== 'null');
    return `must be ${types.map((t) => (t === 'array' ? 'a list of strings' : `a ${t}`)).join(' or ')}`;
  }
  return error.message ?? 'is invalid';
}

/**
 * Reads a body (see readFields) and validates it against `schema` before
 * anything else sees it. OAuth endpoints answer a violation with
 * `invalid_request` (400); admin APIs (`fields`) with their 422 field list.
 */
export async function readValidated(ctx: Context, schema: ValidateFunction, errors: 'invalid_request' | 'fields'): Promise<Fields> {
  return validateFields(await readFields(ctx), schema, errors);
}

/** Validates already-read fields (a query string, say) the way readValidated does. */
export function validateFields(fields: Fields, schema: ValidateFunction, errors: 'invalid_request' | 'fields'): Fields {
  if (depthOf(fields) > MAX_DEPTH) throw new AppError(400, 'invalid_request', 'the request body is nested too deeply');
  if (schema(fields)) return fields;
  const problems: FieldProblem[] = [];
  for (const error of schema.errors ?? []) {
    const field = fieldOf(error);
    if (!problems.some((p) => p.field === field)) problems.push({ field, message: messageOf(error) });
  }
  if (errors === 'fields') throw new ValidationError(problems);
  throw new AppError(400, 'invalid_request', problems.map((p) => `${p.field} ${p.message}`).join('; '));
}
