import type { KoaContextWithOIDC } from 'oidc-provider';

/** A single, non-empty string parameter of a token request (oidc-provider has already refused duplicates). */
export function stringParam(ctx: KoaContextWithOIDC, name: string): string | undefined {
  const value = ctx.oidc.params?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
