import { terminalProgress } from '../import/progress.js';
import type { ImportSummary } from '../import/summary.js';
import type { Services } from '../main.js';
import { ValidationError } from '../errors/app-error.js';
import { list, required, UsageError, type Values } from './arguments.js';
import type { CliCommand } from './commands.js';

/** An import's summary for a reader: a line per table, then the skipped and vanished rows, one a line (plain-text.ts lays them out). */
function summaryLines(summary: ImportSummary) {
  return {
    ...(summary.dryRun ? { note: 'dry run: nothing was written' } : {}),
    ...Object.fromEntries(Object.entries(summary.tables).map(([table, t]) => [table,
      `${t.created} created, ${t.updated} updated, ${t.unchanged} unchanged, ${t.skipped} skipped, ${t.vanished} gone from the source`])),
    ...(summary.skips.length ? { skipped: summary.skips.map((s) => `${s.table} ${s.key}: ${s.reason}`) } : {}),
    ...(summary.vanished.length ? { vanished: summary.vanished.map((v) => `${v.table} ${v.key}`) } : {}),
  };
}

/**
 * The scopes every imported application is given, checked before the DOT
 * database is opened: one that is not registered would make every
 * application break the client rules, and so skip it and all its tokens,
 * while the import still "succeeded".
 */
async function givenScopes(services: Services, values: Values): Promise<string[]> {
  const scope = values.scope === undefined ? ['read', 'write'] : list(values.scope);
  if (!scope.length) throw new UsageError('--scope needs at least one scope: every imported application is given them');
  await services.scopes.assertRegistered(scope, '--scope').catch((error: unknown) => {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(error.fields.map((problem) => ({
      ...problem, message: `${problem.message}; every imported application is given --scope: register it first (gatehouse scope add) or leave it out. Nothing was read or written`,
    })));
  });
  return scope;
}

/** `gatehouse import django-oauth-toolkit`: a DOT service's database, read directly. */
export const importDjangoOAuthToolkitCommand: CliCommand = {
  name: 'import django-oauth-toolkit',
  usage: '--database-url URL [--dry-run] [--skip-unverifiable] [--scope "read write"]',
  summary: 'applications, users and live tokens from a django-oauth-toolkit PostgreSQL database (docs/moving-to-gatehouse/django-oauth-toolkit.md)',
  flags: {
    'database-url': { type: 'string', description: 'the DOT service\'s PostgreSQL database (read only)' },
    'dry-run': { type: 'boolean', description: 'report what would change, write nothing' },
    'skip-unverifiable': { type: 'boolean', description: 'import the others when some password hashes cannot be verified (each is listed)' },
    scope: { type: 'string', multiple: true, description: 'the scopes of DOT\'s OAUTH2_PROVIDER SCOPES setting, given to every client (default "read write")' },
  },
  async run(services, _args, values) {
    // The importer (a PostgreSQL client, the password hashers) loads only when it runs.
    const databaseUrl = required(values, 'database-url');
    // django-oauth-toolkit on PostgreSQL is what the importer reads; any other URL would only fail to connect, saying less.
    if (!/^postgres(ql)?:\/\//i.test(databaseUrl)) {
      throw new UsageError('--database-url must be the DOT service\'s PostgreSQL database, a postgres:// or postgresql:// URL (the importer reads DOT\'s tables on PostgreSQL only)');
    }
    const scope = await givenScopes(services, values);
    const [{ importDjangoOAuthToolkit }, { serviceTargets }] = await Promise.all([import('../import/dot/run.js'), import('../import/service-targets.js')]);
    const summary = await importDjangoOAuthToolkit(services, serviceTargets(services, 'django-oauth-toolkit'), {
      databaseUrl,
      dryRun: values['dry-run'] === true,
      skipUnverifiable: values['skip-unverifiable'] === true,
      scope,
      progress: terminalProgress(process.stderr),
    });
    return values.json ? summary.toJSON() : summaryLines(summary);
  },
};
