/**
 * Keeps the server's copy of the objects' names, colours and labels (`updateObjects`)
 * so a share link's holder sees them: after objects are added, renamed or
 * recoloured, once the changes settle, for the open session. Selecting an
 * object changes nothing the server keeps, so it sends nothing.
 */
import type { GraphQLClient } from '../api/graphql';
import { updateObjects } from '../api/work';
import type { TrackedObject } from '../state/objects';
import type { DemoState } from './store';

/** Quiet time (ms) before the objects are sent: typing a name sends once. */
export const SYNC_DELAY_MS = 400;

/** What the syncing needs of the controller. */
export interface ObjectsSyncHost {
  readonly client: GraphQLClient;
  getState(): DemoState;
  subscribe(listener: () => void): () => void;
  fail(err: unknown, context: string): void;
}

function fingerprint(objects: readonly TrackedObject[]): string {
  return JSON.stringify(objects.map((o) => [o.id, o.name, o.color, o.label ?? '', o.firstFrame ?? null, o.lastFrame ?? null]));
}

export class ObjectsSync {
  private readonly host: ObjectsSyncHost;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** What each session was last sent, so an unchanged list is not sent again. */
  private readonly sent = new Map<string, string>();
  /** The fields last looked at: most state changes (frames, masks) touch none of them. */
  private seen: Pick<DemoState, 'objects' | 'sessionId' | 'sessionStatus'> | null = null;

  constructor(host: ObjectsSyncHost) {
    this.host = host;
    host.subscribe(() => this.changed());
  }

  private due(): { sessionId: string; objects: readonly TrackedObject[]; print: string } | null {
    const s = this.host.getState();
    // A view-only link cannot change them; a session still starting gets them once ready.
    if (!s.sessionId || s.access === 'view' || s.sessionStatus !== 'ready') return null;
    const print = fingerprint(s.objects.objects);
    return this.sent.get(s.sessionId) === print ? null : { sessionId: s.sessionId, objects: s.objects.objects, print };
  }

  private changed(): void {
    const s = this.host.getState();
    const seen = this.seen;
    if (seen && seen.objects === s.objects && seen.sessionId === s.sessionId && seen.sessionStatus === s.sessionStatus) return;
    this.seen = { objects: s.objects, sessionId: s.sessionId, sessionStatus: s.sessionStatus };
    if (!this.due()) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, SYNC_DELAY_MS);
  }

  /** Send the open session's objects now if they changed since last sent. */
  async flush(): Promise<void> {
    const due = this.due();
    if (!due) return;
    this.sent.set(due.sessionId, due.print);
    try {
      await updateObjects(this.host.client, due.sessionId, due.objects);
    } catch (err) {
      if (this.sent.get(due.sessionId) === due.print) this.sent.delete(due.sessionId); // the next change tries again
      this.host.fail(err, 'Could not save the names and colours of the objects');
    }
  }
}
