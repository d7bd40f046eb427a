import type { AuditEvent, AuditRecord, AuditStore } from '../../adapters/sql/audit-store.js';

export type { AuditEvent, AuditRecord };

/** Who did something: an account, a client, the CLI or the system itself. */
export interface Actor {
  actor?: string | null;
  ip?: string | null;
}

/**
 * The security audit trail. `record` never throws: losing the ability to
 * audit is logged loudly, but it must not turn a successful revocation or
 * login into an error for the user.
 */
export class AuditLog {
  constructor(private readonly store: AuditStore, private readonly onError: (error: unknown, event: AuditEvent) => void) {}

  async record(event: AuditEvent): Promise<void> {
    try {
      await this.store.append(event);
    } catch (error) {
      this.onError(error, event);
    }
  }

  list(filter: { since?: Date; clientId?: string; page?: number; perPage?: number }) {
    const perPage = Math.min(Math.max(filter.perPage ?? 50, 1), 500);
    const page = Math.max(filter.page ?? 1, 1);
    return this.store.list({ since: filter.since, clientId: filter.clientId, limit: perPage, offset: (page - 1) * perPage });
  }
}
