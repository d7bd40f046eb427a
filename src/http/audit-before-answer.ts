import type { Middleware } from 'koa';

/**
 * Answers a request only once the audit records it caused are stored. The
 * provider reports failed password grants, revoked grants and destroyed
 * tokens through events, whose listeners cannot be awaited; they leave their
 * writes on the request (ctx.state.auditWrites) and this waits for them, so
 * an administrator who reads the trail after an answer finds the event, and
 * a process that stops after answering has not dropped it. AuditLog.record
 * never rejects (a failed write is logged), so neither does this.
 */
export const answerAfterAuditRecords: Middleware = async (ctx, next) => {
  await next();
  const writes = ctx.state.auditWrites;
  if (writes) await Promise.all(writes);
};
