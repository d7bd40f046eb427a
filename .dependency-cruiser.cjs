/**
 * The dependency rules of docs/architecture.md ("Dependency rules"), checked
 * by `npm run lint:deps` (dependency-cruiser). Entry points → HTTP layers →
 * the provider → domain services → storage; nothing points back up. Every
 * rule here is proven to fail when broken by
 * test/operations/dependency-rules.test.ts, which also lists the probe that
 * breaks each one: a rule added here gets a probe there.
 */

// The composition root (main.ts), the process entry (server.ts), the CLI and
// the import layer it runs (src/import: reads a replaced system and hands
// each row to the domain services it is given, main.ts's Services).
const ENTRY_POINTS = '^src/((main|server)\\.ts$|cli/|import/)';
// What answers HTTP: the shared HTTP helpers and the provider's extension
// steps (src/http), the dialects, the admin surfaces, the pages' shared base
// (src/web), the account page and the login and consent pages.
const HTTP_LAYERS = '^src/(http|compat|admin|interactions|web|account)/';
// The surfaces a request is routed to (src/web is the pages' shared base).
const SURFACES = '^src/(compat|admin|interactions|web|account)/';
const DOMAIN = '^src/(accounts|clients|scopes|keys|resource-servers|audit|security|paging|tokens|sessions)/';
// Database and Redis drivers: PostgreSQL (pg), Redis (ioredis), the
// embedded PostgreSQL (PGlite). Type packages count: a type-only import
// still ties the module to the driver's API. The path may lead through a
// linked node_modules (hence `(^|/)`), and a subpath the resolver cannot
// follow (@electric-sql/pglite/contrib/pg_trgm) stays the bare name.
const STORAGE_DRIVERS = '(^|/)node_modules/(@types/)?(pg|pg-[^/]+|ioredis|@electric-sql/[^/]+)/|^(pg|pg-[^/]+|ioredis|@electric-sql/[^/]+)(/|$)';

// Named exceptions: existing imports that cross a layer, kept as they are
// and allowed one file at a time, each with its why.
const EXCEPTIONS = {
  // The django-oauth-toolkit import reads that service's own PostgreSQL
  // database (--database-url): a foreign source, not Gatehouse's storage, so
  // it cannot go through adapters/.
  readsAForeignDatabase: '^src/import/dot/source\\.ts$',
  // A pure comparison of two source fingerprints (a contract type), and the
  // options every import takes (which source it is), that the domain
  // services use so that a re-import keeps changes made in Gatehouse; it
  // lives in the import layer but imports only adapters/contract.ts.
  sourceChanges: '^src/import/source-changes\\.ts$',
  // Values shared by the domain and the provider's configuration, defined in
  // src/provider: the dialects' token lifetimes kept in client metadata
  // (clients/service.ts) and the access-token length (tokens/import.ts).
  // Neither module imports anything of the domain at runtime.
  providerValues: '^src/provider/(lifetimes|token-values)\\.ts$',
};

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A module cycle makes the order of evaluation an accident; split the shared part out.',
      from: { path: '^(src|adapters|config)/' },
      // Type-only imports vanish at runtime, so they cannot make a cycle of evaluation.
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'storage-drivers-only-in-adapters',
      severity: 'error',
      comment: 'Only adapters/ imports pg, ioredis or @electric-sql/pglite: everything else reaches storage through the interfaces of adapters/contract.ts. Exception: src/import/dot/source.ts reads the django-oauth-toolkit database being imported (see EXCEPTIONS.readsAForeignDatabase).',
      from: { path: '^(src|config)/', pathNot: EXCEPTIONS.readsAForeignDatabase },
      to: { path: STORAGE_DRIVERS },
    },
    {
      name: 'src-never-touches-storage-implementations',
      severity: 'error',
      comment: 'Nothing in src/ imports SQL, Redis or the embedded database: domain services use the interfaces of adapters/contract.ts, and the composition root opens storage through adapters/factory.ts.',
      from: { path: '^src/' },
      to: { path: '^adapters/(sql|redis|embedded)/' },
    },
    {
      name: 'only-entry-points-open-storage',
      severity: 'error',
      comment: 'adapters/factory.ts opens storage and hands over the SQL handle (sqlDatabaseOf); outside adapters/, only main.ts, server.ts and the CLI open storage.',
      from: { path: '^(src|config)/', pathNot: '^src/((main|server)\\.ts$|cli/)' },
      to: { path: '^adapters/factory\\.ts$' },
    },
    {
      name: 'http-layers-reach-storage-through-services',
      severity: 'error',
      comment: 'Routers, dialects and pages use domain services, never storage: of adapters/ they may see only the interfaces and records of adapters/contract.ts.',
      from: { path: HTTP_LAYERS },
      to: { path: '^adapters/', pathNot: '^adapters/contract\\.ts$' },
    },
    {
      name: 'domain-depends-on-storage-interfaces',
      severity: 'error',
      comment: 'Domain services see storage only as the interfaces and records of adapters/contract.ts (plus the pure helpers beside it), never the factory that picks an implementation.',
      from: { path: DOMAIN },
      to: { path: '^adapters/', pathNot: '^adapters/(contract|public-jwk|secrets-at-rest|tiers|unavailable)\\.ts$' },
    },
    {
      name: 'src-sees-storage-only-through-its-interfaces',
      severity: 'error',
      comment: 'Below the entry points (the provider\'s configuration, observability and configuration loading included), src/ imports of adapters/ only the contract and the pure helpers beside it (public-jwk, secrets-at-rest, tiers, unavailable, file-owner): not the oidc-provider adapter, the request scope or the stores\' wrappers, which the composition root wires.',
      from: { path: '^src/', pathNot: '^src/((main|server)\\.ts$|cli/)' },
      to: { path: '^adapters/', pathNot: '^adapters/(contract|public-jwk|secrets-at-rest|tiers|unavailable|file-owner)\\.ts$' },
    },
    {
      name: 'storage-contract-is-implementation-free',
      severity: 'error',
      comment: 'adapters/contract.ts states the rules; implementations depend on it, never the reverse.',
      from: { path: '^adapters/contract\\.ts$' },
      to: { path: '^adapters/(?!contract\\.ts$)' },
    },
    {
      name: 'storage-knows-nothing-of-koa',
      severity: 'error',
      comment: 'adapters/ is storage: no Koa, no routers, no domain services.',
      from: { path: '^adapters/' },
      to: { path: ['^src/', 'node_modules/(koa|@koa)/'] },
    },
    {
      name: 'errors-are-the-base',
      severity: 'error',
      comment: 'The AppError family and its renderers (src/errors) are imported by every layer, so they import no other part of src/.',
      from: { path: '^src/errors/' },
      to: { path: '^src/(?!errors/)' },
    },
    {
      name: 'only-entry-points-import-the-composition-root',
      severity: 'error',
      comment: 'main.ts wires everything and server.ts and the CLI start it, so nothing below them imports them, nor the import layer they run. Exception: src/import/source-changes.ts, used by domain services (see EXCEPTIONS.sourceChanges).',
      from: { path: '^(src|adapters|config)/', pathNot: ENTRY_POINTS },
      to: { path: ENTRY_POINTS, pathNot: EXCEPTIONS.sourceChanges },
    },
    {
      name: 'domain-never-imports-http',
      severity: 'error',
      comment: 'Domain services know nothing of the HTTP layers above them, nor of what a request carries (src/request-state.ts).',
      from: { path: DOMAIN },
      to: { path: [HTTP_LAYERS, '^src/request-state\\.ts$'] },
    },
    {
      name: 'domain-never-imports-the-provider',
      severity: 'error',
      comment: 'src/provider configures the protocol engine on top of the domain services (client rules, the failure limiter, sign-in sessions); they never import it back. Exception: two modules of values both share (see EXCEPTIONS.providerValues).',
      from: { path: DOMAIN },
      to: { path: '^src/provider/', pathNot: EXCEPTIONS.providerValues },
    },
    {
      name: 'resource-check-stands-alone',
      severity: 'error',
      comment: 'src/resource-check is what a resource server runs on a presented token, published as the package\'s `./resource` export: it imports nothing of Gatehouse but src/errors, so a resource server that imports it gets no storage, provider or HTTP layer with it.',
      from: { path: '^src/resource-check/' },
      to: { path: '^(src|adapters|config)/', pathNot: '^src/(resource-check|errors)/' },
    },
    {
      name: 'provider-never-imports-a-surface',
      severity: 'error',
      comment: 'The protocol engine\'s configuration (src/provider) is used by the surfaces (dialects hand requests to it) and never imports one: no dialect, admin surface or page.',
      from: { path: '^src/provider/' },
      to: { path: SURFACES },
    },
    {
      name: 'http-helpers-import-no-surface',
      severity: 'error',
      comment: 'src/http holds what every surface shares and the provider\'s extension steps; a surface imports it, never the reverse.',
      from: { path: '^src/http/' },
      to: { path: SURFACES },
    },
    {
      name: 'dialects-are-independent',
      severity: 'error',
      comment: 'A dialect (src/compat/<dialect>) never imports another dialect, the admin surfaces or the pages; shared hand-off code lives in src/compat/shared.',
      from: { path: '^src/compat/([^/]+)/' },
      to: { path: '^src/(compat/(?!shared/|$1/)|admin/|interactions/|web/|account/)' },
    },
    {
      name: 'dialects-use-only-services-and-http-helpers',
      severity: 'error',
      comment: 'A dialect translates its wire format and hands the request to the provider: it imports its own folder, src/compat/shared, the shared HTTP helpers, the provider, the resource check, domain services, src/errors, src/observability, src/request-state.ts and adapters/contract.ts, nothing else (no entry point, no configuration loader, no storage beyond the contract).',
      from: { path: '^src/compat/([^/]+)/' },
      to: {
        path: '^(src|adapters|config)/',
        pathNot: [
          '^src/compat/(shared|$1)/',
          '^src/(http|provider|resource-check|errors|observability)/',
          '^src/request-state\\.ts$',
          DOMAIN,
          '^adapters/contract\\.ts$',
        ],
      },
    },
    {
      name: 'surfaces-are-independent',
      severity: 'error',
      comment: 'The admin surfaces, the login and consent pages, the account page and the pages\' shared base never import one another nor a dialect; what they share lives in src/web (and src/web imports none of them).',
      from: { path: '^src/(admin|interactions|account|web)/' },
      to: { path: '^src/(compat|admin|interactions|account|web)/', pathNot: ['^src/$1/', '^src/web/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|bench)/' },
  },
};
