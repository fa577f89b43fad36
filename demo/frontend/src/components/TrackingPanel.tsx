/** Track / cancel, and the progress bar with frames done, rate and time left. */
import { useController, useDemoState } from '../app/useController';
import { formatDuration, formatRate, framesPerSecond, percent, runFramesPerSecond, secondsLeft } from '../state/tracking';

export function TrackingPanel() {
  const c = useController();
  const st = useDemoState();
  const p = st.tracking;
  const running = p.status === 'running';
  const pct = percent(p);
  // While running: the latest frames' rate (what the time left follows); after: the whole run's.
  const fps = p.status === 'running' ? framesPerSecond(p) : runFramesPerSecond(p);
  const left = secondsLeft(p);
  let detail = 'Add prompts, then track them through the video.';
  if (p.status !== 'idle') {
    detail = `${p.done} / ${p.total} frames`;
    if (fps > 0) detail += ` · ${formatRate(fps)}`;
    if (left !== null) detail += ` · ${formatDuration(left)} left`;
    if (p.status === 'done') detail += ' · done';
    if (p.status === 'cancelled') detail += ' · cancelled';
    if (p.status === 'error') detail += ` · failed${p.error ? `: ${p.error}` : ''}`;
  }
  return (
    <section className="panel tracking" aria-labelledby="tracking-heading">
      <h2 id="tracking-heading">Tracking</h2>
      <div className="row">
        <button type="button" className="primary" onClick={() => void c.track()} disabled={running || st.sessionStatus !== 'ready' || st.access === 'view'} title="Track objects (T)">
          Track objects
        </button>
        <button type="button" onClick={() => c.cancelTracking()} disabled={!running} title="Cancel tracking (Esc)">
          Cancel tracking
        </button>
      </div>
      <div
        className="progress"
        role="progressbar"
        aria-label="Tracking progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-valuetext={`${pct}% (${p.done} of ${p.total} frames)`}
      >
        <div className={`progress-fill ${p.status}`} style={{ width: `${pct}%` }} />
      </div>
      <p className="muted tracking-detail">{detail}</p>
    </section>
  );
}
