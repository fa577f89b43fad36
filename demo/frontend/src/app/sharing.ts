/**
 * Share links of the open work, for its owner: make an editable or
 * view-only link, list them, revoke one. The links live on the server; this
 * keeps the page's list (`DemoState.shareLinks`) in step with it.
 */
import type { GraphQLClient } from '../api/graphql';
import { createShareLink, fetchShareLinks, revokeShareLink, type LinkMode, type ShareLink } from '../api/work';
import type { DemoState, NoticeTopic } from './store';

/** What sharing needs of the controller. */
export interface ShareHost {
  readonly client: GraphQLClient;
  getState(): DemoState;
  set(patch: Partial<DemoState>): void;
  subscribe(listener: () => void): () => void;
  notify(text: string, kind?: 'info' | 'error', topic?: NoticeTopic): void;
  fail(err: unknown, context: string): void;
}

export class ShareFlow {
  private readonly host: ShareHost;
  /** The session whose links were last listed (each session's are listed once it is ready). */
  private listedFor: string | null = null;

  constructor(host: ShareHost) {
    this.host = host;
    host.subscribe(() => this.follow());
  }

  /** The open work's session id when this page owns it (only an owner manages links). */
  private ownSession(): string | null {
    const s = this.host.getState();
    return s.access === 'owner' && s.sessionStatus === 'ready' ? s.sessionId : null;
  }

  private follow(): void {
    const sessionId = this.ownSession();
    if (!sessionId || sessionId === this.listedFor) return;
    this.listedFor = sessionId;
    void this.refresh(sessionId);
  }

  private async refresh(sessionId: string): Promise<void> {
    try {
      const links = await fetchShareLinks(this.host.client, sessionId);
      if (this.host.getState().sessionId === sessionId) this.host.set({ shareLinks: links });
    } catch {
      // the list stays empty; making a link still works, and says why if it does not
    }
  }

  async create(mode: LinkMode): Promise<ShareLink | null> {
    const sessionId = this.ownSession();
    if (!sessionId) return null;
    try {
      const link = await createShareLink(this.host.client, sessionId, mode);
      if (this.host.getState().sessionId === sessionId) this.host.set({ shareLinks: [...this.host.getState().shareLinks, link] });
      return link;
    } catch (err) {
      this.host.fail(err, 'Could not make a share link');
      return null;
    }
  }

  async revoke(token: string): Promise<void> {
    const sessionId = this.ownSession();
    if (!sessionId) return;
    try {
      await revokeShareLink(this.host.client, sessionId, token);
      this.host.set({ shareLinks: this.host.getState().shareLinks.filter((l) => l.token !== token) });
      this.host.notify('Link revoked: it no longer opens this work.');
    } catch (err) {
      this.host.fail(err, 'Could not revoke the link');
    }
  }
}
