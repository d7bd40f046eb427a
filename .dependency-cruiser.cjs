/**
 * The dependency rules of docs/architecture.md, checked by `npm run lint:deps`
 * (dependency-cruiser). HTTP layers → domain services → storage; nothing
 * points back up.
 */
const HTTP_LAYERS = '^src/(http|compat|admin|interactions|web|account)/';
const DOMAIN = '^src/(accounts|clients|scopes|keys|resource-servers|audit|security|paging|tokens|sessions)/';

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
      name: 'dialects-are-independent',
      severity: 'error',
      comment: 'A dialect (src/compat/<dialect>) never imports another dialect, the admin surfaces or the pages; shared hand-off code lives in src/compat/shared.',
      from: { path: '^src/compat/([^/]+)/' },
      to: { path: '^src/(compat/(?!shared/|$1/)|admin/|interactions/)' },
    },
    {
      name: 'src-never-touches-storage-implementations',
      severity: 'error',
      comment: 'Nothing in src/ imports SQL, Redis or the embedded database: domain services use the interfaces of adapters/contract.ts, and the composition root opens storage through adapters/factory.ts.',
      from: { path: '^src/' },
      to: { path: '^adapters/(sql|redis|embedded)/' },
    },
    {
      name: 'domain-depends-on-storage-interfaces',
      severity: 'error',
      comment: 'Domain services see storage only as the interfaces and records of adapters/contract.ts (plus the pure helpers beside it), never the factory that picks an implementation.',
      from: { path: DOMAIN },
      to: { path: '^adapters/', pathNot: '^adapters/(contract|public-jwk|secrets-at-rest|tiers|unavailable)\\.ts$' },
    },
    {
      name: 'storage-contract-is-implementation-free',
      severity: 'error',
      comment: 'adapters/contract.ts states the rules; implementations depend on it, never the reverse.',
      from: { path: '^adapters/contract\\.ts$' },
      to: { path: '^adapters/(?!contract\\.ts$)' },
    },
    {
      name: 'errors-are-the-base',
      severity: 'error',
      comment: 'The AppError family and its renderers (src/errors) are imported by every layer, so they import no other part of src/.',
      from: { path: '^src/errors/' },
      to: { path: '^src/(?!errors/)' },
    },
    {
      name: 'domain-never-imports-http',
      severity: 'error',
      comment: 'Domain services know nothing of the HTTP layers above them.',
      from: { path: DOMAIN },
      to: { path: HTTP_LAYERS },
    },
    {
      name: 'storage-knows-nothing-of-koa',
      severity: 'error',
      comment: 'adapters/ is storage: no Koa, no routers, no domain services.',
      from: { path: '^adapters/' },
      to: { path: ['^src/', 'node_modules/(koa|@koa)/'] },
    },
    {
      name: 'provider-never-imports-a-router',
      severity: 'error',
      comment: 'The protocol engine\'s configuration (src/provider) never imports a surface.',
      from: { path: '^src/provider/' },
      to: { path: '^src/(compat|admin|interactions)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|bench)/' },
  },
};
