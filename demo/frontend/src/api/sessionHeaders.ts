/**
 * Headers of the page's requests: who is asking (`X-Client-Id`) and, on a
 * session's requests, that session's route key (`X-Route-Key`). A proxy in
 * front of several workers routes by the key, so every request of a session
 * (GraphQL, the tracking stream, mask fetches) reaches the worker holding it;
 * the GraphQL body is no routing key for a proxy.
 */
import { CLIENT_ID_HEADER, clientId } from './clientId';

export const ROUTE_KEY_HEADER = 'X-Route-Key';

/** Route key per session handle (a session id or a share link's token), as the server gave them. */
const routeKeys = new Map<string, string>();

export function rememberRouteKey(sessionId: string, routeKey: string | null | undefined): void {
  if (routeKey) routeKeys.set(sessionId, routeKey);
}

export function routeKeyOf(sessionId: string): string | null {
  return routeKeys.get(sessionId) ?? null;
}

/** Headers for a request; naming its session adds the route key when the page knows it. */
export function requestHeaders(sessionId: string | null = null): Record<string, string> {
  const headers: Record<string, string> = { [CLIENT_ID_HEADER]: clientId() };
  const key = sessionId ? routeKeyOf(sessionId) : null;
  if (key) headers[ROUTE_KEY_HEADER] = key;
  return headers;
}
