/**
 * The browser's identity towards the server: a random id made once and kept
 * in local storage, sent as `X-Client-Id` on every request, so the server can
 * list a visitor's own uploads (and no one else's).
 */
const STORAGE_KEY = 'sam2-demo-client-id';
const VALID = /^[A-Za-z0-9_-]{8,64}$/;

let cached: string | null = null;

function randomId(): string {
  // getRandomValues works on plain-http pages too, unlike crypto.randomUUID.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function clientId(): string {
  if (cached) return cached;
  let id: string | null = null;
  try {
    id = localStorage.getItem(STORAGE_KEY);
  } catch {
    // storage disabled: an id for this page's lifetime
  }
  if (!id || !VALID.test(id)) {
    id = randomId();
    try {
      localStorage.setItem(STORAGE_KEY, id);
    } catch {
      // as above
    }
  }
  cached = id;
  return id;
}

export const CLIENT_ID_HEADER = 'X-Client-Id';
