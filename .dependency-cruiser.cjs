/**
 * The dependency rules of docs/architecture.md, checked by `npm run lint:deps`
 * (dependency-cruiser). HTTP layers → domain services → storage; nothing
 * points back up.
 */
const HTTP_LAYERS = '^src/(http|compat|admin|interactions|web|account)/';
const DOMAIN = '^src/(accounts|clients|scopes|keys|resources|audit|security|paging|tokens)/';

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
      name: 'surfaces-never-touch-storage',
      severity: 'error',
      comment: 'Dialects, admin surfaces, pages and the resource check go through domain services: never SQL or Redis directly.',
      from: { path: '^src/(compat|admin|interactions|resource|web|account)/' },
      to: { path: '^adapters/(sql|redis|embedded)/' },
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
