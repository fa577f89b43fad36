/**
 * One lane per object under the video: where it has masks (tracked),
 * where they are stale (hatched), its frame range (shaded outside), its
 * prompts (keyframes: ticks you can jump to) and the current frame, under
 * a ruler of frame numbers. A click on a lane jumps to that frame. Below,
 * the selected object's range: start or end it at the current frame; and
 * deleting its masks on a span of frames (both ends default to the current
 * frame).
 */
import { useState } from 'react';
import { useController, useDemoState } from '../app/useController';
import { findObject } from '../state/objects';
import { promptedFrames } from '../state/prompts';
import { hasRange, rangeText } from '../state/ranges';
import { rulerFrames } from './ruler';


interface Segment {
  from: number;
  to: number; // inclusive
  kind: 1 | 2; // 1 tracked, 2 stale
}

/** Runs of equal non-zero values of a lane. */
function laneSegments(lane: Uint8Array): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  while (i < lane.length) {
    const v = lane[i];
    let j = i;
    while (j + 1 < lane.length && lane[j + 1] === v) j++;
    if (v === 1 || v === 2) out.push({ from: i, to: j, kind: v });
    i = j + 1;
  }
  return out;
}

function describe(segments: Segment[], kind: 1 | 2): string {
  const parts = segments.filter((s) => s.kind === kind).map((s) => (s.from === s.to ? `${s.from}` : `${s.from}–${s.to}`));
  return parts.length > 0 ? parts.join(', ') : 'none';
}

export function Timeline() {
  const c = useController();
  const st = useDemoState();
  // The ends of "Delete masks" as typed (empty: the current frame).
  const [deleteFrom, setDeleteFrom] = useState('');
  const [deleteTo, setDeleteTo] = useState('');
  const video = st.video;
  if (!video || st.objects.objects.length === 0) return null;
  const n = Math.max(1, video.numFrames);
  const pct = (f: number) => `${(100 * f) / n}%`;
  const width = (from: number, to: number) => `${(100 * (to - from + 1)) / n}%`;
  const selected = findObject(st.objects, st.objects.selectedId);
  const editable = st.access !== 'view' && st.tracking.status !== 'running';
  const frameOf = (text: string) => (text.trim() === '' || !Number.isFinite(Number(text)) ? st.currentFrame : Math.round(Number(text)));
  const span = [frameOf(deleteFrom), frameOf(deleteTo)].sort((a, b) => a - b);
  return (
    <section className="timeline" aria-label="Timeline">
      <div className="lane ruler" aria-hidden="true">
        <span />
        <div className="ruler-track">
          {rulerFrames(n).map((f) => (
            <span key={f} className="ruler-mark" style={{ left: pct(f + 0.5) }}>
              {f}
            </span>
          ))}
        </div>
      </div>
      {st.objects.objects.map((o) => {
        const segments = laneSegments(c.masks.laneOf(o.id, n));
        const prompts = promptedFrames(st.prompts, o.id);
        const range = hasRange(o) ? `; in the scene ${rangeText(o, n)}` : '';
        const summary = `${o.name}: tracked frames ${describe(segments, 1)}; stale frames ${describe(segments, 2)}${range}; keyframes ${prompts.join(', ') || 'none'}`;
        return (
          <div key={o.id} className={o.id === st.objects.selectedId ? 'lane selected' : 'lane'}>
            <span className="lane-name" style={{ borderColor: o.color }} title={o.name}>
              {o.name}
            </span>
            <div
              className="lane-track"
              role="group"
              aria-label={summary}
              title={summary}
              onClick={(e) => {
                const rect = e.currentTarget.getBoundingClientRect();
                c.selectObject(o.id);
                c.seek(Math.floor(((e.clientX - rect.left) / rect.width) * n));
              }}
            >
              {o.firstFrame != null && o.firstFrame > 0 && <span className="out-of-range" style={{ left: 0, width: pct(o.firstFrame) }} />}
              {o.lastFrame != null && o.lastFrame < n - 1 && <span className="out-of-range" style={{ left: pct(o.lastFrame + 1), right: 0 }} />}
              {segments.map((s) => (
                <span
                  key={`${s.from}-${s.kind}`}
                  className={s.kind === 1 ? 'seg tracked' : 'seg stale'}
                  data-from={s.from}
                  data-to={s.to}
                  style={{ left: pct(s.from), width: width(s.from, s.to), background: s.kind === 1 ? o.color : undefined }}
                />
              ))}
              {prompts.map((f) => (
                <button
                  key={f}
                  type="button"
                  className="tick"
                  style={{ left: pct(f + 0.5) }}
                  aria-label={`Go to frame ${f} (prompt of ${o.name})`}
                  onClick={(e) => {
                    e.stopPropagation();
                    c.selectObject(o.id);
                    c.seek(f);
                  }}
                />
              ))}
              <span className="playhead" style={{ left: pct(st.currentFrame + 0.5) }} aria-hidden="true" />
            </div>
          </div>
        );
      })}
      {selected && (
        <div className="range-controls" role="group" aria-label={`Frame range of ${selected.name}`}>
          <span className="muted">
            {selected.name}: {rangeText(selected, n)}
          </span>
          <button type="button" disabled={!editable} onClick={() => c.startObjectAt(selected.id, st.currentFrame)} title="It enters the scene here: no masks before this frame">
            Start at frame {st.currentFrame}
          </button>
          <button type="button" disabled={!editable} onClick={() => c.endObjectAt(selected.id, st.currentFrame)} title="It leaves the scene after this frame: no masks after it">
            End at frame {st.currentFrame}
          </button>
          {hasRange(selected) && (
            <button type="button" disabled={!editable} onClick={() => c.clearObjectRange(selected.id)}>
              Whole video
            </button>
          )}
        </div>
      )}
      {selected && (
        <form
          className="range-controls delete-masks"
          aria-label={`Delete masks of ${selected.name}`}
          onSubmit={(e) => {
            e.preventDefault();
            c.deleteMasks(selected.id, span[0], span[1]);
            setDeleteFrom('');
            setDeleteTo('');
          }}
        >
          <label>
            Delete masks from frame{' '}
            <input type="number" min={0} max={n - 1} value={deleteFrom} placeholder={String(st.currentFrame)} onChange={(e) => setDeleteFrom(e.target.value)} />
          </label>
          <label>
            to frame{' '}
            <input type="number" min={0} max={n - 1} value={deleteTo} placeholder={String(st.currentFrame)} onChange={(e) => setDeleteTo(e.target.value)} />
          </label>
          <button type="submit" disabled={!editable} title="Its masks and prompts on these frames go; a later Track fills them again from its other prompts">
            Delete masks on {span[0] === span[1] ? `frame ${span[0]}` : `frames ${span[0]}–${span[1]}`}
          </button>
        </form>
      )}
    </section>
  );
}
