/** Play/pause, frame steps, scrubber and the frame/time counter. */
import { useController, useDemoState } from '../app/useController';
import { formatTime } from '../render/frameTime';
import { promptedFrames } from '../state/prompts';

export function Transport() {
  const c = useController();
  const st = useDemoState();
  const video = st.video;
  if (!video) return null;
  const last = Math.max(video.numFrames - 1, 0);
  const frame = st.currentFrame;
  const marks = promptedFrames(st.prompts);
  return (
    <div className="transport">
      <button type="button" aria-label="Previous frame" title="Previous frame (←)" onClick={() => c.step(-1)} disabled={frame <= 0}>
        ◀︎
      </button>
      <button type="button" className="play" onClick={() => c.togglePlay()} title="Play / pause (Space)">
        {st.playing ? 'Pause' : 'Play'}
      </button>
      <button type="button" aria-label="Next frame" title="Next frame (→)" onClick={() => c.step(1)} disabled={frame >= last}>
        ▶︎
      </button>
      <div className="scrubber">
        <input
          type="range"
          aria-label="Frame"
          min={0}
          max={last}
          step={1}
          value={frame}
          onChange={(e) => c.seek(Number(e.target.value))}
        />
        <div className="scrubber-marks" aria-hidden="true">
          {marks.map((f) => (
            <span key={f} className="mark" style={{ left: `${(100 * f) / Math.max(last, 1)}%` }} />
          ))}
        </div>
      </div>
      <span className="counter" aria-live="off">
        Frame <output aria-label="Current frame">{frame}</output> / {last} · {formatTime(frame / video.fps)} / {formatTime(video.durationSec)}
      </span>
    </div>
  );
}
