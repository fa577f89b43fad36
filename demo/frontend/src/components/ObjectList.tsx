/** The objects: select, rename, recolour, clear, remove, add (up to the server's limit). */
import { useState } from 'react';
import { useController, useDemoState } from '../app/useController';
import { labelOf, labelsOf } from '../state/labels';
import type { TrackedObject } from '../state/objects';
import { promptedFrames } from '../state/prompts';
import { isShown } from '../state/visibility';

function NameField({ object, onCommit, readOnly }: { object: TrackedObject; onCommit: (name: string) => void; readOnly: boolean }) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      type="text"
      className="object-name"
      aria-label={`Name of Object ${object.id}`}
      value={draft ?? object.name}
      maxLength={60}
      readOnly={readOnly}
      onFocus={() => setDraft(object.name)}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={() => {
        if (draft !== null) onCommit(draft);
        setDraft(null);
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter') e.currentTarget.blur();
      }}
    />
  );
}

/** `loading`: the masks of a reopened video are still on their way from the server. */
function objectStatus(promptFrames: number, lane: Uint8Array, loading = false): string {
  if (promptFrames === 0) return 'no prompts';
  let masks = 0;
  let stale = 0;
  for (const v of lane) {
    if (v > 0) masks++;
    if (v === 2) stale++;
  }
  let text = `prompts on ${promptFrames} frame${promptFrames > 1 ? 's' : ''}`;
  if (masks > 0) text += ` · masks on ${masks}`;
  else if (loading) text += ' · loading masks…';
  if (stale > 0) text += ` (${stale} stale)`;
  return text;
}

export function ObjectList() {
  const c = useController();
  const st = useDemoState();
  const { objects, selectedId } = st.objects;
  const max = c.limits.maxObjects;
  const masksLoading = st.sessionStatus === 'starting' || st.sessionStatus === 'recovering';
  // A view-only link shows the objects; nothing here changes them.
  const viewOnly = st.access === 'view';
  const busy = st.tracking.status === 'running' || viewOnly;
  const n = st.video?.numFrames ?? 1;
  const labels = labelsOf(st.objects);
  return (
    <section className="panel objects" aria-labelledby="objects-heading">
      <h2 id="objects-heading">
        Objects <span className="muted">{objects.length} / {max}</span>
      </h2>
      <ul className="object-list">
        {objects.map((o) => {
          const frames = promptedFrames(st.prompts, o.id);
          const selected = o.id === selectedId;
          return (
            <li key={o.id} aria-label={o.name} className={selected ? 'object selected' : 'object'} onClick={() => c.selectObject(o.id)}>
              <button
                type="button"
                className="object-select"
                aria-pressed={selected}
                aria-label={`Select ${o.name}`}
                onClick={(e) => {
                  e.stopPropagation();
                  c.selectObject(o.id);
                }}
                style={{ background: o.color }}
              />
              <NameField object={o} readOnly={viewOnly} onCommit={(name) => c.renameObject(o.id, name)} />
              <input type="color" aria-label={`Colour of ${o.name}`} value={o.color} disabled={viewOnly} onChange={(e) => c.recolorObject(o.id, e.target.value)} />
              {labels.length > 0 && (
                <select
                  className="object-label"
                  aria-label={`Label of ${o.name}`}
                  value={labelOf(o)}
                  disabled={viewOnly}
                  onClick={(e) => e.stopPropagation()}
                  onChange={(e) => c.setObjectLabel(o.id, e.target.value)}
                >
                  <option value="">No label</option>
                  {labels.map((l) => (
                    <option key={l.name} value={l.name}>
                      {l.name}
                    </option>
                  ))}
                </select>
              )}
              <span className="view-toggles">
                <button
                  type="button"
                  aria-label={`Hide ${o.name}`}
                  aria-pressed={st.visibility.hidden.includes(o.id)}
                  title={isShown(st.visibility, o.id) ? 'Hide it on the video (H)' : 'Hidden on the video'}
                  onClick={(e) => {
                    e.stopPropagation();
                    c.toggleHidden(o.id);
                  }}
                >
                  Hide
                </button>
                <button
                  type="button"
                  aria-label={`Solo ${o.name}`}
                  aria-pressed={st.visibility.solo === o.id}
                  title="Show only this object on the video (S)"
                  onClick={(e) => {
                    e.stopPropagation();
                    c.toggleSolo(o.id);
                  }}
                >
                  Solo
                </button>
              </span>
              <span className="muted object-info">{objectStatus(frames.length, c.masks.laneOf(o.id, n), masksLoading)}</span>
              <button type="button" aria-label={`Clear ${o.name}`} title="Forget its prompts and masks (undoable)" disabled={busy} onClick={(e) => { e.stopPropagation(); c.clearObject(o.id); }}>
                Clear
              </button>
              <button type="button" aria-label={`Remove ${o.name}`} title="Remove it (undoable)" disabled={busy} onClick={(e) => { e.stopPropagation(); c.removeObject(o.id); }}>
                Remove
              </button>
            </li>
          );
        })}
      </ul>
      <div className="row wrap">
        <button type="button" onClick={() => c.addObject()} disabled={objects.length >= max || viewOnly} title="New object (N)">
          Add object
        </button>
        <button type="button" onClick={() => c.undo()} disabled={st.history.length === 0 || busy} title="Undo (Ctrl+Z)">
          Undo
        </button>
        <button type="button" onClick={() => c.startOver()} disabled={busy} title="Forget every object, prompt and mask of this video (undoable)">
          Start over
        </button>
      </div>
    </section>
  );
}
