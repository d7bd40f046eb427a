/**
 * The grants of a Northstar client (with the code flow too when it has a
 * redirect URI): the /v2 API gives them to the clients it creates, and
 * `gatehouse import northstar` to the ones it imports. A module of its own so
 * that the CLI reads it without loading the router.
 */
export const NORTHSTAR_GRANTS = ['client_credentials', 'password', 'refresh_token'];
