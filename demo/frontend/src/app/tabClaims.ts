/**
 * Tabs of one browser share local storage, so a second tab would find the
 * first tab's saved session and both would edit it. Each tab answers, on a
 * BroadcastChannel, which sessions it uses; a tab about to resume a saved
 * session asks first and takes a session of its own when another tab answers.
 */
const CHANNEL = 'sam2-demo-sessions';
/** How long (ms) to wait for another tab to answer. */
const ANSWER_WAIT_MS = 150;

type Message = { type: 'who-has'; sessionId: string; nonce: string } | { type: 'i-have'; nonce: string };

export class TabClaims {
  private readonly channel: BroadcastChannel | null;
  private readonly mine: () => Iterable<string | null>;

  /** @param mine the session ids this tab uses now */
  constructor(mine: () => Iterable<string | null>) {
    this.mine = mine;
    this.channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(CHANNEL) : null;
    this.channel?.addEventListener('message', (e: MessageEvent<Message>) => {
      const m = e.data;
      if (m?.type === 'who-has' && [...this.mine()].includes(m.sessionId)) {
        this.channel?.postMessage({ type: 'i-have', nonce: m.nonce } satisfies Message);
      }
    });
  }

  /** Does another open tab of this browser use `sessionId`? */
  heldElsewhere(sessionId: string): Promise<boolean> {
    const channel = this.channel;
    if (!channel) return Promise.resolve(false);
    const nonce = Math.random().toString(36).slice(2);
    return new Promise((resolve) => {
      const onMessage = (e: MessageEvent<Message>) => {
        if (e.data?.type === 'i-have' && e.data.nonce === nonce) finish(true);
      };
      const finish = (held: boolean) => {
        channel.removeEventListener('message', onMessage);
        clearTimeout(timer);
        resolve(held);
      };
      const timer = setTimeout(() => finish(false), ANSWER_WAIT_MS);
      channel.addEventListener('message', onMessage);
      channel.postMessage({ type: 'who-has', sessionId, nonce } satisfies Message);
    });
  }
}
