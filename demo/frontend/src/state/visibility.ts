/**
 * Which objects the video shows while reviewing: each can be hidden, and
 * one can be soloed (shown alone). A view setting only: exports and
 * tracking see every object.
 */

export interface Visibility {
  hidden: readonly number[];
  solo: number | null;
}

export const ALL_VISIBLE: Visibility = { hidden: [], solo: null };

export function isShown(v: Visibility, objectId: number): boolean {
  return v.solo !== null ? v.solo === objectId : !v.hidden.includes(objectId);
}

export function toggleHidden(v: Visibility, objectId: number): Visibility {
  const hidden = v.hidden.includes(objectId) ? v.hidden.filter((id) => id !== objectId) : [...v.hidden, objectId];
  return { ...v, hidden };
}

/** Solo an object, or end the solo when it is the soloed one already. */
export function toggleSolo(v: Visibility, objectId: number): Visibility {
  return { ...v, solo: v.solo === objectId ? null : objectId };
}
