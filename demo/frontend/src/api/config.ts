/**
 * Where the backend lives: `VITE_API_URL` at build time, else the page's own
 * origin (the production build is served by the backend itself).
 */
export function apiBaseUrl(): string {
  const configured = (import.meta.env.VITE_API_URL as string | undefined)?.trim();
  if (configured) return configured.replace(/\/+$/, '');
  return window.location.origin;
}

/** Resolve a URL the server returned (absolute or `/gallery/...`) against the API base. */
export function resolveApiUrl(url: string, base: string = apiBaseUrl()): string {
  return new URL(url, `${base}/`).toString();
}
