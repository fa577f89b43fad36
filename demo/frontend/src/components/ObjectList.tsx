/** The objects: select, rename, recolour, clear, remove, add (up to the server's limit). */
import { useState } from 'react';
import { useController, useDemoState } from '../app/useController';
import type { TrackedObject } from '../state/objects';

function NameField({ object, onCommit }: { object: TrackedObject; onCommit: (name: string) => void }) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      type="text"
      className="object-name"
      aria-label={`Name of Object ${object.id}`}
      value={draft ?? object.name}
      maxLength={60}
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

export function ObjectList() {
  const c = useController();
  const st = useDemoState();
  const { objects, selectedId } = st.objects;
  const max = c.limits.maxObjects;
  const busy = st.tracking.status === 'running';
  return (
    <section className="panel objects" aria-labelledby="objects-heading">
      <h2 id="objects-heading">
        Objects <span className="muted">{objects.length} / {max}</span>
      </h2>
      <ul className="object-list">
        {objects.map((o) => {
          const frames = c.promptFramesOf(o.id);
          const selected = o.id === selectedId;
          return (
            <li key={o.id} aria-label={`Object ${o.id}`} className={selected ? 'object selected' : 'object'} onClick={() => c.selectObject(o.id)}>
              <button
                type="button"
                className="object-select"
                aria-pressed={selected}
                aria-label={`Select Object ${o.id}`}
                onClick={(e) => {
                  e.stopPropagation();
                  c.selectObject(o.id);
                }}
                style={{ background: o.color }}
              />
              <NameField object={o} onCommit={(name) => c.renameObject(o.id, name)} />
              <input type="color" aria-label={`Colour of Object ${o.id}`} value={o.color} onChange={(e) => c.recolorObject(o.id, e.target.value)} />
              <span className="muted object-info">{frames.length === 0 ? 'no prompts' : `prompts on ${frames.length} frame${frames.length > 1 ? 's' : ''}`}</span>
              <button type="button" aria-label={`Clear Object ${o.id}`} disabled={busy} onClick={(e) => { e.stopPropagation(); void c.clearObject(o.id); }}>
                Clear
              </button>
              <button type="button" aria-label={`Remove Object ${o.id}`} disabled={busy} onClick={(e) => { e.stopPropagation(); void c.removeObject(o.id); }}>
                Remove
              </button>
            </li>
          );
        })}
      </ul>
      <button type="button" onClick={() => c.addObject()} disabled={objects.length >= max} title="New object (N)">
        Add object
      </button>
    </section>
  );
}
