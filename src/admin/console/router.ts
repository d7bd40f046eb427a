import Router from '@koa/router';
import type { AccountService } from '../../accounts/service.js';
import type { AuditLog } from '../../audit/log.js';
import type { DialectUsage } from '../../clients/dialect-usage.js';
import type { ClientService } from '../../clients/service.js';
import type { PasswordResetLinks } from '../../accounts/reset-links.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import type { SignInSessionService } from '../../sessions/service.js';
import { ADMIN_PATH } from '../../web/paths.js';
import type { SignedInPages } from '../../web/signed-in-pages.js';
import { mountConsoleClientPages } from '../dashboard/router.js';
import { mountAuditPages } from './audit.js';
import { mountSessionPages } from './sessions.js';
import { mountUserPages } from './users.js';

export interface ConsoleDeps {
  clients: ClientService;
  accounts: AccountService;
  sessions: SignInSessionService;
  resetLinks: PasswordResetLinks;
  dialects: DialectUsage;
  scopes: ScopeRegistry;
  audit: AuditLog;
  pages: SignedInPages;
}

/**
 * The admin console at /admin: administrators only, every page and form
 * over the same services as the CLI and the /v2 API. Its sections are
 * mounted here, each from its own module.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const { clients, accounts, pages } = deps;
  const router = new Router();
  router.use(ADMIN_PATH, pages.errorPages(ADMIN_PATH, { href: ADMIN_PATH, label: 'Back to the console' }));
  pages.mountSignIn(router, ADMIN_PATH);
  const requireAdmin = pages.requireAdmin(ADMIN_PATH);

  router.get(ADMIN_PATH, requireAdmin, async (ctx) => {
    // Totals only: the lists page on the server, one count query each.
    const [{ total: clientCount }, { total: userCount }] = await Promise.all([
      clients.list({ page: 1, perPage: 1 }),
      accounts.list({ page: 1, perPage: 1 }),
    ]);
    pages.render(ctx, ADMIN_PATH, 'console/home', { title: 'Overview', section: 'home', clientCount, userCount });
  });

  mountConsoleClientPages(router, deps);
  mountUserPages(router, deps);
  mountAuditPages(router, deps);
  mountSessionPages(router, deps);
  return router;
}
