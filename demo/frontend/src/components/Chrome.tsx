/** Page header, random-weights banner, notices, the keyboard help dialog and the drop overlay. */
import { useEffect, useRef, useState } from 'react';
import { useController, useDemoState } from '../app/useController';
import { SHORTCUTS } from '../app/useKeyboard';
import { modelLine } from './modelLine';

export function Header() {
  const c = useController();
  const st = useDemoState();
  const info = st.serverInfo;
  return (
    <header className="header">
      <h1>SAM 2 · video object segmentation</h1>
      <span className="muted model-info">{info ? modelLine(info) : ''}</span>
      <button type="button" className="help-button" aria-label="Keyboard shortcuts" onClick={() => c.setHelpOpen(true)}>
        ?
      </button>
    </header>
  );
}

export function RandomWeightsBanner() {
  const st = useDemoState();
  if (!st.serverInfo?.randomWeights) return null;
  return (
    <aside className="banner" aria-label="Server notice">
      This server runs on random weights (no checkpoint): masks are arbitrary shapes, useful only for testing.
    </aside>
  );
}

/** A slot of fixed height above the video: notices come and go without moving it. */
export function NoticeBar() {
  const c = useController();
  const { notice, sessionStatus, video } = useDemoState();
  return (
    <div className={`notice-slot${notice ? ` notice ${notice.kind}` : ''}`} role={notice?.kind === 'error' ? 'alert' : 'status'}>
      {notice && (
        <>
          <span className="notice-text">{notice.text}</span>
          <span className="notice-actions">
            {sessionStatus === 'error' && video && (
              <button type="button" className="link" onClick={() => c.retrySession()}>
                Reopen video
              </button>
            )}
            <button type="button" className="link" onClick={() => c.dismissNotice()}>
              Dismiss
            </button>
          </span>
        </>
      )}
    </div>
  );
}

/** A modal <dialog>: the page behind is inert, Tab cycles inside, Esc closes, focus returns where it was. */
export function HelpOverlay() {
  const c = useController();
  const { helpOpen } = useDemoState();
  const ref = useRef<HTMLDialogElement | null>(null);
  const returnTo = useRef<HTMLElement | null>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (helpOpen && !dialog.open) {
      returnTo.current = document.activeElement as HTMLElement | null;
      dialog.showModal();
    } else if (!helpOpen && dialog.open) {
      dialog.close();
    }
  }, [helpOpen]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="help-heading"
      onClose={() => {
        c.setHelpOpen(false);
        returnTo.current?.focus();
      }}
      onClick={(e) => {
        if (e.target === e.currentTarget) c.setHelpOpen(false); // a click on the backdrop
      }}
      onKeyDown={(e) => {
        // The page behind is inert, but Tab would still leave for the browser's own controls.
        if (e.key !== 'Tab') return;
        const focusable = [...e.currentTarget.querySelectorAll<HTMLElement>('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')];
        if (focusable.length === 0) return;
        const first = focusable[0];
        const last = focusable[focusable.length - 1];
        if (e.shiftKey && document.activeElement === first) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && document.activeElement === last) {
          e.preventDefault();
          first.focus();
        }
      }}
    >
      <h2 id="help-heading">Keyboard shortcuts</h2>
      <table>
        <tbody>
          {SHORTCUTS.map(([key, what]) => (
            <tr key={key}>
              <th scope="row">
                <kbd>{key}</kbd>
              </th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" autoFocus onClick={() => c.setHelpOpen(false)}>
        Close
      </button>
    </dialog>
  );
}

/** The whole window takes dropped files (an overlay says so); a file dropped outside a drop zone never opens in the tab. */
export function DropOverlay() {
  const c = useController();
  const [active, setActive] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => !!e.dataTransfer && Array.from(e.dataTransfer.types).includes('Files');
    const onEnter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setActive(true);
    };
    const onOver = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault(); // without this the browser opens the file and leaves the page
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      setActive(true);
    };
    const onLeave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setActive(false);
    };
    const onDrop = (e: DragEvent) => {
      if (!e.dataTransfer) return;
      e.preventDefault();
      depth = 0;
      setActive(false);
      const file = e.dataTransfer.files?.[0];
      if (file) void c.upload(file);
    };
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, [c]);
  if (!active) return null;
  return (
    <div className="drop-overlay" aria-hidden="true">
      <p>Drop the video to upload it</p>
    </div>
  );
}
