/** The tool on the video (points, brush, eraser, polygon), prompt mode (positive / negative clicks and taps), brush size, clearing the frame. */
import { useController, useDemoState } from '../app/useController';
import type { DemoState, StageTool } from '../app/controller';
import { promptedObjects } from '../state/prompts';
import { MAX_BRUSH_RADIUS, MIN_BRUSH_RADIUS } from '../state/maskPaint';

const TOOLS: { tool: StageTool; label: string; key: string; title: string }[] = [
  { tool: 'points', label: 'Points', key: 'P', title: 'Clicks add points, a drag draws a box' },
  { tool: 'brush', label: 'Brush', key: 'B', title: "Paint the selected object's mask on this frame" },
  { tool: 'eraser', label: 'Eraser', key: 'E', title: "Erase from the selected object's mask on this frame" },
  { tool: 'polygon', label: 'Polygon', key: 'G', title: "The selected object's mask on this frame as outlines: drag a vertex to reshape it" },
];

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
      <span className="tool-group" role="group" aria-label="Tool">
        {TOOLS.map((t) => (
          <button key={t.tool} type="button" aria-pressed={st.tool === t.tool} aria-keyshortcuts={t.key} title={`${t.title} (${t.key})`} onClick={() => c.setTool(t.tool)}>
            {t.label}
          </button>
        ))}
      </span>
      {st.tool === 'points' ? (
        <span className="tool-group" role="group" aria-label="Clicks add">
          <button type="button" aria-pressed={!st.negativeMode} onClick={() => c.setNegativeMode(false)}>
            Positive points
          </button>
          <button type="button" aria-pressed={st.negativeMode} aria-keyshortcuts="X" title="Toggle with X" onClick={() => c.setNegativeMode(true)}>
            Negative points
          </button>
        </span>
      ) : st.tool === 'polygon' ? null : (
        <label className="brush-size" title="Brush size ([ and ])">
          Size
          <input
            type="range"
            min={MIN_BRUSH_RADIUS}
            max={MAX_BRUSH_RADIUS}
            value={st.brushRadius}
            aria-label="Brush size"
            aria-valuetext={`${st.brushRadius} pixels`}
            onChange={(e) => c.setBrushRadius(Number(e.target.value))}
          />
        </label>
      )}
      <button type="button" onClick={() => c.clearFrameOfSelected()} title="Remove the selected object's prompts on this frame">
        Clear frame
      </button>
      <span className="tool-group" role="group" aria-label="Zoom">
        <button type="button" aria-label="Zoom out" aria-keyshortcuts="-" title="Zoom out (−)" disabled={st.zoom.scale <= 1} onClick={() => c.zoomBy(0.5)}>
          −
        </button>
        <output className="zoom-level" aria-label="Zoom level">{Math.round(st.zoom.scale * 100)}%</output>
        <button type="button" aria-label="Zoom in" aria-keyshortcuts="+" title="Zoom in (+; wheel or pinch on the video)" onClick={() => c.zoomBy(2)}>
          +
        </button>
        {st.zoom.scale > 1 && (
          <button type="button" aria-keyshortcuts="0" title="Show the whole frame (0)" onClick={() => c.setZoom({ scale: 1, cx: 0.5, cy: 0.5 })}>
            Fit
          </button>
        )}
      </span>
      {st.pendingPrompts > 0 && <span className="pending" role="status">Segmenting…</span>}
      {st.pendingPrompts === 0 && loadingMasks(st) && <span className="pending" role="status">Loading your masks…</span>}
    </div>
  );
}

/** A reopened video whose masks are still on their way from the server. */
function loadingMasks(st: DemoState): boolean {
  return (st.sessionStatus === 'starting' || st.sessionStatus === 'recovering') && promptedObjects(st.prompts).length > 0;
}
