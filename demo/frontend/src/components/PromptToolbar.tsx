/** Prompt mode (positive / negative clicks and taps) and clearing the frame. */
import { useController, useDemoState } from '../app/useController';

export function PromptToolbar() {
  const c = useController();
  const st = useDemoState();
  if (st.access === 'view') {
    return (
      <div className="prompt-toolbar" role="toolbar" aria-label="Prompt tools">
        <span className="toolbar-label">View-only link: play, effects and export work; prompts and tracking are its owner's.</span>
        {st.pendingPrompts > 0 && <span className="pending" role="status">Segmenting…</span>}
      </div>
    );
  }
  return (
    <div className="prompt-toolbar" role="toolbar" aria-label="Prompt tools">
      <span className="toolbar-label">Clicks add</span>
      <button type="button" aria-pressed={!st.negativeMode} onClick={() => c.setNegativeMode(false)}>
        Positive points
      </button>
      <button type="button" aria-pressed={st.negativeMode} onClick={() => c.setNegativeMode(true)}>
        Negative points
      </button>
      <button type="button" onClick={() => c.clearFrameOfSelected()} title="Remove the selected object's prompts on this frame">
        Clear frame
      </button>
      {st.pendingPrompts > 0 && <span className="pending" role="status">Segmenting…</span>}
    </div>
  );
}
