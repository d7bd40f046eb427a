import type { Context } from 'koa';
import type { FieldProblem } from '../../errors/app-error.js';

// Northstar names a client's name `title`.
const FIELD_NAMES: Record<string, string> = { name: 'title' };

/**
 * Northstar's error shape: `{error: {code, message, fields?}}`, where
 * `fields` maps each offending field to its messages (HTTP 422).
 */
export function northstarError(ctx: Context, status: number, message: string, fields?: FieldProblem[], challenge?: string): void {
  ctx.status = status;
  if (challenge) ctx.set('WWW-Authenticate', challenge);
  const byField: Record<string, string[]> = {};
  for (const problem of fields ?? []) {
    const name = FIELD_NAMES[problem.field] ?? problem.field;
    (byField[name] ??= []).push(problem.message);
  }
  ctx.body = { error: { code: status, message, ...(fields?.length ? { fields: byField } : {}) } };
}
