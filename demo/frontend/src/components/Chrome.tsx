/** Page header, random-weights banner, notices and the keyboard help overlay. */
import { useController, useDemoState } from '../app/useController';
import { SHORTCUTS } from '../app/useKeyboard';

export function Header() {
  const c = useController();
  const st = useDemoState();
  const info = st.serverInfo;
  return (
    <header className="header">
      <h1>SAM 2 · video object segmentation</h1>
      <span className="muted">{info ? `model ${info.modelSize} on ${info.device}` : ''}</span>
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
    <div className="banner" role="note">
      This server runs on random weights (no checkpoint): masks are arbitrary shapes, useful only for testing.
    </div>
  );
}

export function NoticeBar() {
  const c = useController();
  const { notice, sessionStatus, video } = useDemoState();
  if (!notice) return null;
  return (
    <div className={`notice ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
      <span>{notice.text}</span>
      {sessionStatus === 'error' && video && (
        <button type="button" className="link" onClick={() => void c.openVideo(video)}>
          Reopen video
        </button>
      )}
      <button type="button" className="link" onClick={() => c.dismissNotice()}>
        Dismiss
      </button>
    </div>
  );
}

export function HelpOverlay() {
  const c = useController();
  const { helpOpen } = useDemoState();
  if (!helpOpen) return null;
  return (
    <div className="overlay" onClick={() => c.setHelpOpen(false)}>
      <div className="dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
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
      </div>
    </div>
  );
}
