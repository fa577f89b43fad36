/**
 * "Segment everything" on the current frame: density and minimum score, a
 * progress bar with cancel while the server works, then the proposals (also
 * drawn on the video) to keep or drop one click each, or all at once. Kept
 * proposals become objects; "Track objects" then tracks them all.
 * A disclosure, closed until opened or until it has something to show, so
 * the tracking and export panels below stay in view.
 */
import { useState } from 'react';
import { DENSITIES } from '../app/segmentEverything';
import { useEverythingState } from '../app/useEverything';
import { useController, useDemoState } from '../app/useController';
import { progressPercent, secondsLeft } from '../state/proposals';
import { formatDuration } from '../state/tracking';

export function SegmentEverythingPanel() {
  const c = useController();
  const st = useDemoState();
  const ev = useEverythingState();
  const [density, setDensity] = useState<number>(16);
  // Random weights predict IoUs around 0.5: no minimum by default there.
  const [minScore, setMinScore] = useState<number | null>(null);
  const score = minScore ?? (st.serverInfo?.randomWeights ? 0 : 0.7);
  const running = ev.status === 'running';
  const pct = progressPercent(ev);
  const left = secondsLeft(ev);
  const busy = running || st.tracking.status === 'running' || st.sessionStatus !== 'ready';
  const elsewhere = ev.frameIndex !== null && ev.items.length > 0 && ev.frameIndex !== st.currentFrame;
  const [opened, setOpened] = useState(false);
  const open = opened || running || ev.items.length > 0;
  if (st.access === 'view') return null; // its proposals become objects: editing
  return (
    <details className="panel everything" open={open} onToggle={(e) => setOpened(e.currentTarget.open)}>
      <summary>
        <h2>Segment everything</h2>
      </summary>
      <div className="row wrap">
        <label>
          Density{' '}
          <select aria-label="Density" value={density} disabled={running} onChange={(e) => setDensity(Number(e.target.value))}>
            {DENSITIES.map((d) => (
              <option key={d} value={d}>{`${d} × ${d} points`}</option>
            ))}
          </select>
        </label>
        <label>
          Min score{' '}
          <input
            type="number" aria-label="Minimum score" min={0} max={1} step={0.05} value={score} disabled={running}
            onChange={(e) => {
              const v = Number(e.target.value);
              if (Number.isFinite(v)) setMinScore(Math.min(1, Math.max(0, v)));
            }}
          />
        </label>
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={busy} onClick={() => void c.everything.run({ pointsPerSide: density, minScore: score })}>
          Segment this frame
        </button>
        <button type="button" disabled={!running} onClick={() => c.everything.cancel()}>
          Cancel segmenting
        </button>
      </div>
      {running && (
        <div
          className="progress small"
          role="progressbar"
          aria-label="Segment everything progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={pct}
          aria-valuetext={`${pct}% (${ev.done} of ${ev.total} batches)`}
        >
          <div className="progress-fill" style={{ width: `${pct}%` }} />
        </div>
      )}
      {running && (
        <p className="muted everything-detail">
          {ev.total > 0 ? `${ev.done} of ${ev.total} batches` : 'Starting…'}
          {left !== null && ` · about ${formatDuration(left)} left`}
        </p>
      )}
      {ev.items.length > 0 && (
        <>
          <p className="muted">
            {ev.items.length} proposal{ev.items.length > 1 ? 's' : ''} on frame {ev.frameIndex}
            {elsewhere && (
              <>
                {' '}
                <button type="button" className="link" onClick={() => c.seek(ev.frameIndex as number)}>show</button>
              </>
            )}
          </p>
          <ul className="proposal-list">
            {ev.items.map((item, rank) => (
              <li
                key={item.key}
                className={ev.highlighted === item.key ? 'proposal highlighted' : 'proposal'}
                aria-label={`Proposal ${rank + 1}`}
                // Pointer or keyboard on a row: its mask alone on the video.
                onMouseEnter={() => c.everything.highlight(item.key)}
                onMouseLeave={() => c.everything.highlight(null)}
                onFocus={() => c.everything.highlight(item.key)}
                onBlur={() => c.everything.highlight(null)}
              >
                <span className="swatch" style={{ background: item.color }} />
                <span className="muted">
                  score {item.proposal.score.toFixed(2)} · {item.proposal.area.toLocaleString()} px
                </span>
                <button type="button" aria-label={`Keep proposal ${rank + 1}`} onClick={() => c.everything.keep([item.key])}>Keep</button>
                <button type="button" aria-label={`Drop proposal ${rank + 1}`} onClick={() => c.everything.drop([item.key])}>Drop</button>
              </li>
            ))}
          </ul>
          <div className="row">
            <button type="button" className="primary" onClick={() => c.everything.keepAll()}>Keep all</button>
            <button type="button" onClick={() => c.everything.dropAll()}>Drop all</button>
          </div>
        </>
      )}
    </details>
  );
}
