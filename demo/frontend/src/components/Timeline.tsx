/**
 * One lane per object under the video: where it has masks (tracked),
 * where they are stale (hatched), its prompts (ticks you can jump to) and
 * the current frame. A click on a lane jumps to that frame.
 */
import { useController, useDemoState } from '../app/useController';
import { promptedFrames } from '../state/prompts';

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
  const video = st.video;
  if (!video || st.objects.objects.length === 0) return null;
  const n = Math.max(1, video.numFrames);
  const pct = (f: number) => `${(100 * f) / n}%`;
  const width = (from: number, to: number) => `${(100 * (to - from + 1)) / n}%`;
  return (
    <section className="timeline" aria-label="Timeline">
      {st.objects.objects.map((o) => {
        const segments = laneSegments(c.masks.laneOf(o.id, n));
        const prompts = promptedFrames(st.prompts, o.id);
        const summary = `${o.name}: tracked frames ${describe(segments, 1)}; stale frames ${describe(segments, 2)}`;
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
    </section>
  );
}
