import { rfc6749Error } from '../shared/oauth-error.js';

/** django-oauth-toolkit (oauthlib) errors: the RFC 6749 shape. */
export const dotError = rfc6749Error;
