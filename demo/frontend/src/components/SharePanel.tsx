/**
 * Share the open video's work: its owner makes editable or view-only links
 * (`?share=<token>`), copies them and revokes them; a link's holder is told
 * what the link allows.
 */
import { useState } from 'react';
import { shareUrl } from '../app/pageMemory';
import { useController, useDemoState } from '../app/useController';
import type { LinkMode } from '../api/work';

const MODE_NAME: Record<LinkMode, string> = { edit: 'Editable', view: 'View-only' };

export function SharePanel() {
  const c = useController();
  const st = useDemoState();
  const [status, setStatus] = useState<string | null>(null);
  if (!st.video) return null;
  if (st.access !== 'owner') {
    return (
      <section className="panel share" aria-labelledby="share-heading">
        <h2 id="share-heading">Share</h2>
        <p className="muted share-access">
          {st.access === 'view'
            ? 'You opened this work from a view-only link: play, effects and export work; editing does not.'
            : 'You opened this work from an editable link: your changes are saved with it.'}{' '}
          Only its owner makes and revokes links.
        </p>
      </section>
    );
  }
  const ready = st.sessionStatus === 'ready';
  const make = async (mode: LinkMode) => {
    const link = await c.sharing.create(mode);
    if (link) setStatus(`${MODE_NAME[mode]} link made: copy it and send it. It opens this work in any browser until you revoke it.`);
  };
  const copy = async (url: string, input: HTMLInputElement | null) => {
    try {
      await navigator.clipboard.writeText(url);
      setStatus('Link copied.');
    } catch {
      // no clipboard (plain http, or permission): select it for Ctrl+C
      input?.select();
      setStatus('The browser did not allow copying: the link is selected, press Ctrl+C.');
    }
  };
  return (
    <section className="panel share" aria-labelledby="share-heading">
      <h2 id="share-heading">Share</h2>
      <div className="row wrap">
        <button type="button" onClick={() => void make('edit')} disabled={!ready}>
          Make an editable link
        </button>
        <button type="button" onClick={() => void make('view')} disabled={!ready}>
          Make a view-only link
        </button>
      </div>
      {st.shareLinks.length === 0 ? (
        <p className="muted">No links yet. A link opens this video&apos;s work (objects, prompts, masks) in another browser.</p>
      ) : (
        <ul className="share-links">
          {st.shareLinks.map((link, i) => {
            const url = shareUrl(link.token);
            const label = `${MODE_NAME[link.mode]} link ${i + 1}`;
            return (
              <li key={link.token} aria-label={label}>
                <span className="share-mode">{MODE_NAME[link.mode]}</span>
                <input type="text" readOnly value={url} aria-label={`Address of ${label}`} onFocus={(e) => e.currentTarget.select()} />
                <button type="button" aria-label={`Copy ${label}`} onClick={(e) => void copy(url, e.currentTarget.parentElement?.querySelector('input') ?? null)}>
                  Copy
                </button>
                <button type="button" aria-label={`Revoke ${label}`} onClick={() => void c.sharing.revoke(link.token)}>
                  Revoke
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {status && (
        <p className="muted" role="status">
          {status}
        </p>
      )}
    </section>
  );
}
