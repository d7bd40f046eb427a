import type { Middleware } from 'koa';
import type { Client } from '../clients/service.js';

/** What the step needs of the client service. */
export interface NarrowingClients {
  show(clientId: string): Promise<Client>;
  endTokensIfNarrowedSince(clientId: string, before: Client): Promise<boolean>;
}

/**
 * An RFC 7592 update (PUT /reg/:clientId) that takes a scope or a grant type
 * away from the client ends every grant and token it holds, as the same
 * change does on every administrator surface (ClientService.update): a
 * registrant narrowing its client, after a leak say, must not find the wider
 * tokens still working and refreshing. The provider writes the change
 * itself, so the client is read before and judged after.
 *
 * By then the change is stored and the answer holds the client's new
 * registration access token, the only copy (the one presented is spent): a
 * failure to end the tokens is reported (`failed`), never turned into an
 * error answer that would lose the registrant their client.
 */
export function endTokensWhenNarrowed(clients: NarrowingClients, failed: (error: unknown, clientId: string) => void): Middleware {
  return async (ctx, next) => {
    const clientId = ctx.state.providerRoute?.params.clientId;
    const before = clientId ? await clients.show(clientId).catch(() => undefined) : undefined;
    await next();
    if (!clientId || !before || ctx.status !== 200) return;
    await clients.endTokensIfNarrowedSince(clientId, before).catch((error: unknown) => failed(error, clientId));
  };
}
