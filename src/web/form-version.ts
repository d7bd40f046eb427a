import { createHash } from 'node:crypto';
import type { Form } from './signed-in-pages.js';

/** The hidden field of an edit form that says which version of the record the form was loaded from. */
export const FORM_VERSION_FIELD = 'form_version';

/** A field's value as a form shows it: a text, or a list (compared in order: sort it first when order means nothing). */
export type ShownValue = string | readonly string[];

/** One editable field of a form: how the record shows it and how a posted form sends it, in the same shape. */
export interface EditableField<R> {
  /** The field's label, for the message that names it. */
  label: string;
  shown(record: R): ShownValue;
  posted(form: Form): ShownValue;
}

/**
 * What a posted edit form asks for. `apply`: the fields the administrator
 * changed from the version they loaded (none changed differently since by
 * someone else). `conflict`: nothing may be written, because `fields` were
 * changed both on this form and by someone else since it was loaded, or the
 * form does not say which version it was loaded from (`unversioned`).
 */
export type EditPlan<K extends string> =
  | { outcome: 'apply'; changed: ReadonlySet<K> }
  | { outcome: 'conflict'; fields: K[]; unversioned: boolean };

/** A set of choices (checkboxes, scope words): sorted and without repeats, so neither order nor repeats count as a change. */
export function choices(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/**
 * One value's fingerprint: enough to tell whether it changed, never used as
 * a secret (the form shows the value itself), so 96 bits of SHA-256.
 */
function fingerprint(value: ShownValue): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 16);
}

/** The candidate values of the fields a plan found changed; the others are left out, so the service keeps them as they are. */
export function changedOnly<K extends string, V extends Partial<Record<K, unknown>>>(changed: ReadonlySet<K>, candidate: V): Partial<V> {
  return Object.fromEntries(Object.entries(candidate).filter(([name]) => changed.has(name as K))) as Partial<V>;
}

const CONFLICT_MESSAGE = 'changed by someone else since you opened this page';

/**
 * The errors of an edit form whose save lost a race at the write (the
 * service's StaleWriteError, `message`): the form comes back with the
 * current values, as for a conflict the plan found.
 */
export function lostRaceErrors(message: string): Record<string, string[]> {
  return { general: [`${message}. The form now shows the current values. Make your change again and save.`] };
}

/**
 * An edit form over a record of type R, declared as its editable fields.
 *
 * Why: a form posts every field, so a form loaded before another
 * administrator's change would otherwise undo that change when saved (a lost
 * update). The form carries, in FORM_VERSION_FIELD, a fingerprint of each
 * field as it was shown; on save, a field counts as changed by this
 * administrator only if what was posted differs from what was shown, and as
 * changed by someone else only if the record now differs from what was shown.
 * Only the fields changed here are written, so two administrators editing
 * different fields both hold; one field changed differently by both, or a
 * form without a version (a tab opened before this mechanism, a hand-made
 * POST), is a conflict: nothing is written and the form comes back with the
 * current values.
 */
export class EditForm<R, K extends string> {
  constructor(private readonly fields: Readonly<Record<K, EditableField<R>>>) {}

  private get names(): K[] {
    return Object.keys(this.fields) as K[];
  }

  /** The version to put in the form's FORM_VERSION_FIELD when it shows `record`. */
  version(record: R): string {
    const prints = Object.fromEntries(this.names.map((name) => [name, fingerprint(this.fields[name].shown(record))]));
    return Buffer.from(JSON.stringify(prints)).toString('base64url');
  }

  /**
   * The version a posted form carries, as sent: a form refused for its input
   * comes back with it, so that the next save is still judged against what
   * was first loaded. '' when absent.
   */
  postedVersion(form: Form): string {
    const value = form[FORM_VERSION_FIELD];
    return typeof value === 'string' ? value : '';
  }

  /** Judges a posted form against the record as it is now (see the class comment). */
  plan(form: Form, current: R): EditPlan<K> {
    const loaded = this.readVersion(this.postedVersion(form));
    if (!loaded) return { outcome: 'conflict', fields: [], unversioned: true };
    const changed = new Set<K>();
    const conflicts: K[] = [];
    for (const name of this.names) {
      const field = this.fields[name];
      const posted = fingerprint(field.posted(form));
      if (posted === loaded[name]) continue;
      const now = fingerprint(field.shown(current));
      // Changed here only, or changed to the same value by both: not a conflict.
      if (now !== loaded[name] && now !== posted) conflicts.push(name);
      else if (now !== posted) changed.add(name);
    }
    return conflicts.length ? { outcome: 'conflict', fields: conflicts, unversioned: false } : { outcome: 'apply', changed };
  }

  /** A conflict as the form's errors: what happened at the top, and a mark next to each field concerned. */
  conflictErrors(plan: Extract<EditPlan<K>, { outcome: 'conflict' }>): Record<string, string[]> {
    if (plan.unversioned) {
      return { general: ['This form does not say which version it was opened on (it may be from before an upgrade), so saving it could undo someone else’s change. Nothing was saved: the form now shows the current values. Make your change again and save.'] };
    }
    const labels = plan.fields.map((name) => this.fields[name].label).join(', ');
    const errors: Record<string, string[]> = {
      general: [`${labels}: ${CONFLICT_MESSAGE}. Nothing was saved: the form now shows the current values. Make your change again and save.`],
    };
    for (const name of plan.fields) errors[name] = [`${CONFLICT_MESSAGE}: now as shown here`];
    return errors;
  }

  /** Every field's fingerprint, or undefined for a version that is missing, malformed or of another form. */
  private readVersion(value: string): Record<K, string> | undefined {
    if (!value || value.length > 4096) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const prints = parsed as Record<string, unknown>;
    return this.names.every((name) => typeof prints[name] === 'string') ? prints as Record<K, string> : undefined;
  }
}
