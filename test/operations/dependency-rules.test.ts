import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { tempDir } from '../support/folders.js';

// dist/test/operations/ → the repository.
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * An import that breaks one dependency rule: a module written (or, with
 * `append`, an import added to an existing module) in a copy of the tree.
 * Each probe is its own module, so a violation reported from it is its own.
 */
interface Probe {
  file: string;
  source: string;
  rule: string;
  append?: boolean;
  /** A module the probe needs beside it, which breaks nothing of its own. */
  companion?: { file: string; source: string };
}

const PROBES: Probe[] = [
  // The storage drivers, from a dialect and from a domain service.
  { file: 'src/compat/los/probe-pg.ts', source: "import pg from 'pg';\nexport const probe = pg;\n", rule: 'storage-drivers-only-in-adapters' },
  { file: 'src/compat/le/probe-ioredis.ts', source: "import { Redis } from 'ioredis';\nexport const probe = Redis;\n", rule: 'storage-drivers-only-in-adapters' },
  { file: 'src/compat/dot/probe-pglite.ts', source: "import type { PGlite } from '@electric-sql/pglite';\nexport type Probe = PGlite;\n", rule: 'storage-drivers-only-in-adapters' },
  { file: 'src/clients/probe-ioredis.ts', source: "import { Redis } from 'ioredis';\nexport const probe = Redis;\n", rule: 'storage-drivers-only-in-adapters' },
  { file: 'src/clients/probe-pg.ts', source: "import pg from 'pg';\nexport const probe = pg;\n", rule: 'storage-drivers-only-in-adapters' },
  // The exception is the django-oauth-toolkit source reader, not its folder.
  { file: 'src/import/dot/probe-pg.ts', source: "import pg from 'pg';\nexport const probe = pg;\n", rule: 'storage-drivers-only-in-adapters' },
  // Of adapters/, the domain sees the contract and its pure helpers, HTTP layers the contract alone.
  { file: 'src/provider/probe-sql.ts', source: "import { openPostgres } from '../../adapters/sql/postgres.js';\nexport const probe = openPostgres;\n", rule: 'src-never-touches-storage-implementations' },
  // The factory hands over the SQL handle (sqlDatabaseOf).
  { file: 'src/compat/lux/probe-factory.ts', source: "import { sqlDatabaseOf } from '../../../adapters/factory.js';\nexport const probe = sqlDatabaseOf;\n", rule: 'only-entry-points-open-storage' },
  { file: 'src/http/probe-factory.ts', source: "import { openStorage } from '../../adapters/factory.js';\nexport const probe = openStorage;\n", rule: 'only-entry-points-open-storage' },
  { file: 'src/admin/console/probe-request-scope.ts', source: "import * as scope from '../../../adapters/request-scope.js';\nexport const probe = scope;\n", rule: 'http-layers-reach-storage-through-services' },
  { file: 'src/keys/probe-oidc-adapter.ts', source: "import * as adapter from '../../adapters/oidc-adapter.js';\nexport const probe = adapter;\n", rule: 'domain-depends-on-storage-interfaces' },
  { file: 'src/provider/probe-request-scope.ts', source: "import * as scope from '../../adapters/request-scope.js';\nexport const probe = scope;\n", rule: 'src-sees-storage-only-through-its-interfaces' },
  { file: 'src/observability/probe-oidc-adapter.ts', source: "import * as adapter from '../../adapters/oidc-adapter.js';\nexport const probe = adapter;\n", rule: 'src-sees-storage-only-through-its-interfaces' },
  { file: 'adapters/contract.ts', append: true, source: "\nimport './tiers.js';\n", rule: 'storage-contract-is-implementation-free' },
  { file: 'adapters/probe-koa.ts', source: "import Koa from 'koa';\nexport const probe = Koa;\n", rule: 'storage-knows-nothing-of-koa' },
  { file: 'adapters/probe-src.ts', source: "import { AppError } from '../src/errors/app-error.js';\nexport const probe = AppError;\n", rule: 'storage-knows-nothing-of-koa' },
  { file: 'src/errors/probe-http.ts', source: "import { readFields } from '../http/body.js';\nexport const probe = readFields;\n", rule: 'errors-are-the-base' },
  // Upward imports from the domain: the composition root, the import layer, HTTP, the provider.
  // The exceptions are single modules (import/source-changes.ts, provider/lifetimes.ts and
  // token-values.ts): the rest of those folders stays out of reach.
  { file: 'src/clients/probe-main.ts', source: "import type { Services } from '../main.js';\nexport type Probe = Services;\n", rule: 'only-entry-points-import-the-composition-root' },
  { file: 'src/accounts/probe-import.ts', source: "import type { ImportSummary } from '../import/summary.js';\nexport type Probe = ImportSummary;\n", rule: 'only-entry-points-import-the-composition-root' },
  { file: 'src/http/probe-cli.ts', source: "import * as cli from '../cli/commands.js';\nexport const probe = cli;\n", rule: 'only-entry-points-import-the-composition-root' },
  { file: 'src/scopes/probe-views.ts', source: "import { renderPage } from '../http/views.js';\nexport const probe = renderPage;\n", rule: 'domain-never-imports-http' },
  { file: 'src/audit/probe-request-state.ts', source: "import type { Dialect } from '../request-state.js';\nexport type Probe = Dialect;\n", rule: 'domain-never-imports-http' },
  { file: 'src/tokens/probe-provider.ts', source: "import { buildProvider } from '../provider/build.js';\nexport const probe = buildProvider;\n", rule: 'domain-never-imports-the-provider' },
  // Resource servers import the resource check (the package's ./resource export).
  { file: 'src/resource-check/probe-audit.ts', source: "import type { AuditLog } from '../audit/log.js';\nexport type Probe = AuditLog;\n", rule: 'resource-check-stands-alone' },
  // The provider and the shared HTTP code never import a surface.
  { file: 'src/provider/probe-web.ts', source: "import * as session from '../web/session.js';\nexport const probe = session;\n", rule: 'provider-never-imports-a-surface' },
  { file: 'src/provider/probe-account.ts', source: "import { accountRouter } from '../account/router.js';\nexport const probe = accountRouter;\n", rule: 'provider-never-imports-a-surface' },
  { file: 'src/http/probe-dialect.ts', source: "import { dotRouter } from '../compat/dot/router.js';\nexport const probe = dotRouter;\n", rule: 'http-helpers-import-no-surface' },
  // Dialects.
  { file: 'src/compat/los/probe-le.ts', source: "import { leRouter } from '../le/router.js';\nexport const probe = leRouter;\n", rule: 'dialects-are-independent' },
  { file: 'src/compat/le/probe-web.ts', source: "import * as session from '../../web/session.js';\nexport const probe = session;\n", rule: 'dialects-are-independent' },
  { file: 'src/compat/dot/probe-account.ts', source: "import { accountRouter } from '../../account/router.js';\nexport const probe = accountRouter;\n", rule: 'dialects-are-independent' },
  { file: 'src/compat/shared/probe-config.ts', source: "import { loadConfig } from '../../config/load.js';\nexport const probe = loadConfig;\n", rule: 'dialects-use-only-services-and-http-helpers' },
  // Surfaces.
  { file: 'src/admin/northstar/probe-dialect.ts', source: "import { luxRouter } from '../../compat/lux/router.js';\nexport const probe = luxRouter;\n", rule: 'surfaces-are-independent' },
  { file: 'src/interactions/probe-dialect.ts', source: "import { losRouter } from '../compat/los/router.js';\nexport const probe = losRouter;\n", rule: 'surfaces-are-independent' },
  { file: 'src/web/probe-admin.ts', source: "import { consoleRouter } from '../admin/console/router.js';\nexport const probe = consoleRouter;\n", rule: 'surfaces-are-independent' },
  // A cycle of runtime imports (type-only ones are allowed to loop).
  {
    file: 'src/paging/probe-cycle-a.ts', source: "import { b } from './probe-cycle-b.js';\nexport const a = (): unknown => b;\n", rule: 'no-cycles',
    companion: { file: 'src/paging/probe-cycle-b.ts', source: "import { a } from './probe-cycle-a.js';\nexport const b = (): unknown => a;\n" },
  },
];

interface LintRun { status: number | null; output: string }

/** `npm run lint:deps`, the command CI runs, in `cwd`. */
function lintDeps(cwd: string): LintRun {
  const run = spawnSync('npm', ['run', '-s', 'lint:deps'], { cwd, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** The rules each module breaks, from dependency-cruiser's `  error <rule>: <from> → <to>` lines. */
function violationsByModule(output: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const [, rule, from] of output.matchAll(/^\s*error (\S+): (\S+) →/gm)) {
    if (!found.has(from!)) found.set(from!, new Set());
    found.get(from!)!.add(rule!);
  }
  return found;
}

/**
 * docs/architecture.md's dependency rules are enforced: each rule of
 * .dependency-cruiser.cjs fails `npm run lint:deps` when an import breaks it,
 * and the tree as it is passes. The probes go into a copy of the tree in a
 * temporary folder (never into src/), which is removed afterwards.
 */
describe('dependency rules (npm run lint:deps)', function () {
  this.timeout(60_000);

  let copy: string;
  let broken: LintRun;

  before(async () => {
    copy = await tempDir('gh-deps-');
    for (const entry of ['src', 'adapters', 'config', 'tsconfig.json', 'package.json', '.dependency-cruiser.cjs']) {
      cpSync(join(REPO, entry), join(copy, entry), { recursive: true });
    }
    symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'), 'dir');
    for (const probe of PROBES) {
      const path = join(copy, probe.file);
      mkdirSync(dirname(path), { recursive: true });
      if (probe.append) appendFileSync(path, probe.source);
      else writeFileSync(path, probe.source);
      if (probe.companion) writeFileSync(join(copy, probe.companion.file), probe.companion.source);
    }
    // One run for every probe: each is its own module, so each violation is
    // traced to its probe, and one run keeps the test to a few seconds.
    broken = lintDeps(copy);
  });

  after(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('passes on the tree as it is', () => {
    const run = lintDeps(REPO);
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.include('no dependency violations found');
  });

  it('fails when any probe breaks a rule', () => {
    expect(broken.status, broken.output).to.be.a('number').and.not.equal(0);
  });

  for (const probe of PROBES) {
    it(`${probe.rule}: refuses ${probe.append ? 'an import added to ' : ''}${probe.file} (${probe.source.trim().split('\n')[0]})`, () => {
      expect(broken.status, broken.output).to.not.equal(0);
      const rules = violationsByModule(broken.output).get(probe.file);
      expect([...(rules ?? [])], broken.output).to.include(probe.rule);
    });
  }

  it('has a probe for every rule of .dependency-cruiser.cjs', () => {
    // A rule nobody has seen fail may never fail (a path pattern that matches nothing).
    const config = createRequire(import.meta.url)(join(REPO, '.dependency-cruiser.cjs')) as { forbidden: Array<{ name: string }> };
    const probed = new Set(PROBES.map((probe) => probe.rule));
    expect(config.forbidden.map((rule) => rule.name).filter((name) => !probed.has(name))).to.deep.equal([]);
  });
});
