import type { Context, Middleware } from 'koa';
import { type AdminDecision, authorizeAdmin, type RolesOf } from '../resource-check/admin-access.js';
import type { TokenCheck } from '../resource-check/token-check.js';
import type { AuditLog } from '../audit/log.js';

/** Who an admin token speaks for: its user, else its client. */
export function adminActor(decision: AdminDecision): string | null {
  if (!decision.allowed) return null;
  return decision.token.sub ? `user:${decision.token.sub}` : `client:${decision.token.clientId}`;
}

/** Audits one call to an admin surface (allowed or refused) once it has been answered. */
export async function auditAdminCall(audit: AuditLog, ctx: Context, surface: string, decision: AdminDecision, status = ctx.status): Promise<void> {
  await audit.record({
    event: decision.allowed ? 'admin.api' : 'admin.denied',
    actor: adminActor(decision),
    clientId: decision.allowed ? decision.token.clientId : null,
    ip: ctx.ip,
    // `reason` (with the surface and the address) tells refusals apart in the
    // tally that bounds them (src/audit/log.ts); the path is bounded there too.
    detail: { surface, ...(decision.allowed ? {} : { reason: decision.error }), method: ctx.method, path: ctx.path, status },
  });
}

export interface AdminGateOptions {
  surface: string;
  tokenCheck: TokenCheck;
  rolesOf: RolesOf;
  audit: AuditLog;
  realm: string;
  /**
   * Takes an Authorization header that is a token alone, with no scheme, as
   * a Bearer token: Northstar's clients send `Authorization: <token>` (its
   * document's every example), which its server accepted.
   */
  schemeOptional?: boolean;
  /** Writes the refusal in the surface's own error shape. */
  refuse(ctx: Context, decision: Extract<AdminDecision, { allowed: false }>): void;
  /**
   * The surface's error mapping (the one useErrorMapping mounts): a call the
   * route fails is answered by it inside the gate, so the audit records the
   * status the caller got (a conflict Northstar answers 422), not a guess.
   */
  errors: Middleware;
}

/**
 * Middleware for an admin surface: lets only administrators through (see
 * authorizeAdmin), puts the token and the acting admin on `ctx.state`, and
 * audits every call, allowed or refused, once it has been answered.
 */
export function adminGate(options: AdminGateOptions): Middleware {
  return async (ctx, next) => {
    let authorization = ctx.get('Authorization') || undefined;
    if (options.schemeOptional && authorization && !authorization.includes(' ')) authorization = `Bearer ${authorization}`;
    const decision = await authorizeAdmin(options.tokenCheck, options.rolesOf, authorization, {
      realm: options.realm,
    });
    if (!decision.allowed) {
      options.refuse(ctx, decision);
      await auditAdminCall(options.audit, ctx, options.surface, decision);
      return;
    }
    ctx.state.token = decision.token;
    ctx.state.actor = { actor: adminActor(decision), ip: ctx.ip };
    try {
      await options.errors(ctx, next);
    } catch (error) {
      // What the surface's mapping leaves to the global handler: a fault, a 500.
      await auditAdminCall(options.audit, ctx, options.surface, decision, 500);
      throw error;
    }
    await auditAdminCall(options.audit, ctx, options.surface, decision);
  };
}
