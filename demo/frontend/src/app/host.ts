/**
 * What the controller's helpers (sessions, tracking, uploads, segment
 * everything) may ask of the page: the API client, the state and its
 * notices. Each helper widens it with the few actions it needs, so data
 * flows one way: the controller imports its helpers, never the reverse.
 */
import type { GraphQLClient } from '../api/graphql';
import type { ServerLimits } from '../api/types';
import type { DemoState, NoticeTopic, Notice } from './store';

export interface PageHost {
  readonly client: GraphQLClient;
  readonly limits: ServerLimits;
  getState(): DemoState;
  set(patch: Partial<DemoState>): void;
  subscribe(listener: () => void): () => void;
  notify(text: string, kind?: Notice['kind'], topic?: NoticeTopic): void;
  endNotice(topic: NoticeTopic): void;
  /** Tell the user what failed (an aborted request stays quiet). */
  fail(err: unknown, context: string): void;
}
