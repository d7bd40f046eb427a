import type { Services } from '../../main.js';
import { TokenImportService } from '../../tokens/import.js';
import { ImportManifest } from '../manifest.js';
import type { Progress } from '../progress.js';
import type { ImportSummary } from '../summary.js';
import type { ImportTargets } from '../targets.js';
import { DotImporter } from './importer.js';
import { DotSource } from './source.js';

export interface DotImportRequest {
  databaseUrl: string;
  dryRun: boolean;
  skipUnverifiable: boolean;
  scope: string[];
  progress?: Progress;
}

/** `gatehouse import django-oauth-toolkit`: opens the source, imports, closes it. */
export async function importDjangoOAuthToolkit(services: Services, targets: ImportTargets, request: DotImportRequest): Promise<ImportSummary> {
  const source = await DotSource.open(request.databaseUrl);
  try {
    const importer = new DotImporter(source, {
      targets,
      tokens: new TokenImportService(services.provider, { durable: services.storage.durable, ephemeral: services.storage.ephemeral }),
      manifest: new ImportManifest(services.storage.adapter, 'django-oauth-toolkit'),
    }, {
      dryRun: request.dryRun,
      skipUnverifiable: request.skipUnverifiable,
      scope: request.scope,
      lifetimes: { accessToken: services.config.dotAccessTokenTtl, refreshToken: services.config.dotRefreshTokenTtl },
      progress: request.progress,
    });
    return await importer.run();
  } finally {
    await source.close();
  }
}
