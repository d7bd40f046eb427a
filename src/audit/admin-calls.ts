import type { Context } from 'koa';
import type { AdminDecision } from '../resource/admin-access.js';
import type { AuditLog } from './log.js';

/** Who an admin token speaks for: its user, else its client. */
export function adminActor(decision: AdminDecision): string | null {
  if (!decision.allowed) return null;
  return decision.token.sub ? `user:${decision.token.sub}` : `client:${decision.token.clientId}`;
}

/** Audits one call to an admin surface (allowed or refused) once it has been answered. */
export async function auditAdminCall(audit: AuditLog, ctx: Context, surface: string, decision: AdminDecision): Promise<void> {
  await audit.record({
    event: decision.allowed ? 'admin.api' : 'admin.denied',
    actor: adminActor(decision),
    clientId: decision.allowed ? decision.token.clientId : null,
    ip: ctx.ip,
    detail: { surface, method: ctx.method, path: ctx.path, status: ctx.status },
  });
}
