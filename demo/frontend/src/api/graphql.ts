import { requestHeaders } from './sessionHeaders';

/**
 * Minimal GraphQL-over-HTTP client: POST a query with variables as JSON,
 * return `data` or throw an ApiError carrying the server's message.
 */

export class ApiError extends Error {
  /** The server's error code (extensions.code) when it sent one. */
  readonly code: string | null;

  constructor(message: string, code: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }

  /**
   * True when the server does not have the session: expired, evicted, or
   * unknown (NOT_FOUND: neither the process nor its database holds it). All
   * of them mean the same to the page: start a new one and carry on.
   */
  get sessionGone(): boolean {
    if (this.linkGone) return false;
    if (this.code === 'SESSION_EXPIRED') return true;
    return /session.*(expired|not found|unknown)|unknown session/i.test(this.message);
  }

  /** A share link that was revoked or never existed: only its owner can make a new one. */
  get linkGone(): boolean {
    return this.code === 'NOT_FOUND' && /share link/i.test(this.message);
  }

  /** An edit through a view-only share link. */
  get readOnly(): boolean {
    return this.code === 'READ_ONLY';
  }
}

interface GraphQLErrorShape {
  message?: string;
  extensions?: { code?: string };
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: GraphQLErrorShape[];
}

/** Turn a parsed GraphQL response into data or a thrown ApiError. */
export function unwrapGraphQL<T>(payload: GraphQLResponse<T>, httpStatus: number): T {
  if (payload.errors && payload.errors.length > 0) {
    const first = payload.errors[0];
    throw new ApiError(first.message || 'The server reported an error.', first.extensions?.code ?? null);
  }
  if (payload.data === undefined || payload.data === null) {
    throw new ApiError(`The server answered HTTP ${httpStatus} without data.`);
  }
  return payload.data;
}

export async function parseGraphQLResponse<T>(response: Response): Promise<T> {
  let payload: GraphQLResponse<T>;
  try {
    payload = (await response.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(`The server answered HTTP ${response.status} ${response.statusText} instead of GraphQL JSON.`);
  }
  return unwrapGraphQL(payload, response.status);
}

/** The session an operation names (`sessionId`, or `input.sessionId` in mutations), for its route key. */
function sessionIdOf(variables: Record<string, unknown>): string | null {
  const input = variables.input as { sessionId?: unknown } | undefined;
  const id = variables.sessionId ?? input?.sessionId;
  return typeof id === 'string' ? id : null;
}

export class GraphQLClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  get endpoint(): string {
    return `${this.baseUrl}/graphql`;
  }

  async request<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...requestHeaders(sessionIdOf(variables)) },
        body: JSON.stringify({ query, variables }),
        signal,
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(`Cannot reach the server at ${this.baseUrl}: ${(err as Error).message}`);
    }
    return parseGraphQLResponse<T>(response);
  }
}
