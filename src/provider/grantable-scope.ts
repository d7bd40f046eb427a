import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * Whether an authorization request asks for anything that could be granted:
 * an OpenID Connect scope the provider knows (offline_access alone grants
 * nothing), a scope of a resource server it asks for, or authorization
 * details.
 */
function asksForSomething(ctx: KoaContextWithOIDC): boolean {
  const { oidc } = ctx;
  if ([...oidc.requestParamOIDCScopes].some((scope) => scope !== 'offline_access')) return true;
  const requested = oidc.requestParamScopes;
  const servers = Object.values(oidc.resourceServers ?? {}) as Array<{ scope?: string }>;
  if (servers.some((server) => (server.scope ?? '').split(' ').some((scope) => requested.has(scope)))) return true;
  return oidc.params?.authorization_details !== undefined;
}

/**
 * The interaction policy, with one check first: a request that asks for no
 * scope that could be granted (none, or only unknown ones) fails at once
 * with invalid_scope (RFC 6749 §3.3), before the user signs in.
 * oidc-provider alone signs the user in and asks for consent, then answers
 * access_denied without a word of why.
 */
export function policyRefusingNothingGrantable(): ReturnType<typeof interactionPolicy.base> {
  const policy = interactionPolicy.base();
  const first = policy[0]!;
  first.checks.unshift(new interactionPolicy.Check('nothing_grantable', 'the request asks for no scope that can be granted', (ctx) => {
    if (!asksForSomething(ctx)) {
      throw new errors.InvalidScope('the request asks for no scope that can be granted: openid, or a scope of the resource it names', String(ctx.oidc.params?.scope ?? ''));
    }
    return interactionPolicy.Check.NO_NEED_TO_PROMPT;
  }));
  return policy;
}
