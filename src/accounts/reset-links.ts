import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PasswordResetLinkStore } from '../../adapters/contract.js';
import type { Actor, AuditLog } from '../audit/log.js';
import { AppError, type FieldProblem, NotFoundError, ValidationError } from '../errors/app-error.js';
import type { Account, AccountService } from './service.js';

/**
 * Why a link cannot be used; the page says only this, nothing of the
 * account. `superseded`: the password is no longer the one the link was
 * created to replace.
 */
export type UnusableReason = 'unknown' | 'used' | 'expired' | 'superseded';

/** A link that cannot set a password: 404 when it never existed, 410 when it did (used, expired or superseded). */
export class ResetLinkUnusable extends AppError {
  override name = 'ResetLinkUnusable';

  constructor(readonly reason: UnusableReason) {
    super(reason === 'unknown' ? 404 : 410, `reset_link_${reason}`, {
      unknown: 'This password-reset link is not valid. Ask an administrator for a new one.',
      used: 'This password-reset link has already been used, or a newer one replaced it. Ask an administrator for a new one.',
      expired: 'This password-reset link has expired. Ask an administrator for a new one.',
      superseded: 'This password-reset link no longer works: the password has been set since it was created. Ask an administrator for a new one.',
    }[reason]);
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

const NONCE_BYTES = 12;
const BINDING_BYTES = 16;

/**
 * Ties a link to the password it replaces (AccountService.passwordStamp).
 * Keyed by the link's secret, so the id, which travels in the link
 * beside the secret, says nothing of the password to anyone else.
 */
function binding(secret: string, passwordStamp: string): Buffer {
  return createHmac('sha256', secret).update(passwordStamp).digest().subarray(0, BINDING_BYTES);
}

/**
 * One-time password-reset links an administrator hands over (there is no
 * mailer). The token is `<id>.<secret>`: the id finds the record, the
 * secret is stored only as its SHA-256 and compared in constant time
 * (RFC 6819 §5.1.4.1.3, as client secrets are), and a link is spent in one
 * atomic step before the password is set (two concurrent uses: one wins).
 *
 * A link is good only for the password it was created to replace: its id
 * carries, after a random nonce, a binding to the account's password stamp
 * at creation, checked at every use. Any new password, by whichever path
 * (another link, the account page, the console, the CLI, an import, a
 * rehash at sign-in), changes the stamp and so voids every outstanding link
 * of the account at once, with nothing for that path to remember. A new
 * link spends the account's earlier ones.
 */
export class PasswordResetLinks {
  constructor(
    private readonly store: PasswordResetLinkStore,
    private readonly accounts: AccountService,
    readonly lifetimeSeconds: number,
    private readonly audit?: AuditLog,
  ) {}

  /** A new link's token (shown once, never stored) for the account. */
  async create(idOrUsername: string, by: Actor = {}): Promise<{ account: Account; token: string; expiresAt: Date }> {
    const account = await this.accounts.show(idOrUsername);
    const stamp = await this.accounts.passwordStamp(account.id);
    if (stamp === undefined) throw new NotFoundError(`no user with id "${account.id}"`);
    const secret = randomBytes(32).toString('base64url');
    const id = Buffer.concat([randomBytes(NONCE_BYTES), binding(secret, stamp)]).toString('base64url');
    const expiresAt = new Date(Date.now() + this.lifetimeSeconds * 1000);
    // A new link replaces the account's earlier ones: one handed over on a bad channel and then reissued is dead.
    await this.store.consumeAllOf(account.id);
    await this.store.insert({ id, accountId: account.id, secretHash: sha256(secret).toString('base64url'), createdBy: by.actor ?? null, expiresAt });
    await this.audit?.record({ event: 'account.reset_link_created', ...by, detail: { account_id: account.id, username: account.username, link: id, expires_at: expiresAt.toISOString() } });
    return { account, token: `${id}.${secret}`, expiresAt };
  }

  /** The account a live link resets, and the password stamp it is bound to; ResetLinkUnusable otherwise. */
  async check(token: string): Promise<{ id: string; account: Account; stamp: string }> {
    const [id, secret, ...rest] = token.split('.');
    const record = id && secret && !rest.length ? await this.store.find(id) : undefined;
    const presented = sha256(secret ?? '');
    const stored = Buffer.from(record?.secretHash ?? '', 'base64url');
    if (!record || stored.length !== presented.length || !timingSafeEqual(stored, presented)) throw new ResetLinkUnusable('unknown');
    if (record.usedAt) throw new ResetLinkUnusable('used');
    if (record.expiresAt.getTime() <= Date.now()) throw new ResetLinkUnusable('expired');
    const account = await this.accounts.findById(record.accountId);
    if (!account?.active) throw new ResetLinkUnusable('unknown');
    const stamp = await this.accounts.passwordStamp(account.id);
    // A link from before links were bound has no binding: void too, as it may outlive a password it never knew.
    const bound = Buffer.from(record.id, 'base64url').subarray(NONCE_BYTES);
    if (stamp === undefined || bound.length !== BINDING_BYTES || !timingSafeEqual(bound, binding(secret!, stamp))) {
      throw new ResetLinkUnusable('superseded');
    }
    return { id: record.id, account, stamp };
  }

  /**
   * Sets the password through a live link, which ends every sign-in session,
   * grant and token of the account (whoever knew the old password, or holds
   * a token obtained with it, is signed out: AccountService.resetPassword).
   * Bad input spends nothing; the link is spent before the password is
   * written, and the password is written only if it is still the one the
   * link was checked against (so a link racing another change loses).
   */
  async redeem(token: string, password: string, confirmation: string, by: Pick<Actor, 'ip'> = {}): Promise<Account> {
    const { id, account, stamp } = await this.check(token);
    const problems: FieldProblem[] = [];
    try {
      this.accounts.checkNewPassword(password, 'password');
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      problems.push(...error.fields);
    }
    if (password !== confirmation) problems.push({ field: 'password_confirmation', message: 'does not match the new password' });
    if (problems.length) throw new ValidationError(problems);
    if (!(await this.store.consume(id))) throw new ResetLinkUnusable('used');
    const actor = { actor: `user:${account.id}`, ip: by.ip ?? null };
    if (!(await this.accounts.resetPassword(account.id, password, stamp, actor))) throw new ResetLinkUnusable('superseded');
    return account;
  }
}
