import Router from '@koa/router';
import type { AccountService } from '../../accounts/service.js';
import type { AuditLog } from '../../audit/log.js';
import type { DialectUsage } from '../../clients/dialect-usage.js';
import type { ClientService } from '../../clients/service.js';
import type { ResourceServerRegistry } from '../../resource-servers/registry.js';
import type { PasswordResetLinks } from '../../accounts/reset-links.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import type { SignInSessionService } from '../../sessions/service.js';
import { ADMIN_PATH } from '../../web/paths.js';
import type { SignedInPages } from '../../web/signed-in-pages.js';
import { mountConsoleClientPages } from '../dashboard/router.js';
import { mountAuditPages } from './audit.js';
import { mountKeyPages } from './keys.js';
import { mountOverviewPage, type OverviewDeps } from './overview.js';
import { mountResourceServerPages } from './resource-servers.js';
import { mountScopePages } from './scopes.js';
import { mountSessionPages } from './sessions.js';
import { mountUserPages } from './users.js';

export interface ConsoleDeps extends OverviewDeps {
  clients: ClientService;
  accounts: AccountService;
  sessions: SignInSessionService;
  resetLinks: PasswordResetLinks;
  dialects: DialectUsage;
  scopes: ScopeRegistry;
  resourceServers: ResourceServerRegistry;
  audit: AuditLog;
  pages: SignedInPages;
}

/**
 * The admin console at /admin: administrators only, every page and form
 * over the same services as the CLI and the /v2 API. Its sections are
 * mounted here, each from its own module.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const { pages } = deps;
  const router = new Router();
  router.use(ADMIN_PATH, pages.errorPages(ADMIN_PATH, { href: ADMIN_PATH, label: 'Back to the console' }));
  pages.mountSignIn(router, ADMIN_PATH);

  mountOverviewPage(router, deps);
  mountConsoleClientPages(router, deps);
  mountUserPages(router, deps);
  mountAuditPages(router, deps);
  mountKeyPages(router, deps);
  mountScopePages(router, deps);
  mountResourceServerPages(router, deps);
  mountSessionPages(router, deps);
  return router;
}
