/** Reading a local video's metadata with the browser's own decoder. */

/** Duration of a local file in seconds, or null if the browser cannot tell (within 4 s). */
export function probeVideoDuration(file: Blob): Promise<number | null> {
  if (typeof document === 'undefined') return Promise.resolve(null);
  return new Promise((resolve) => {
    const el = document.createElement('video');
    const url = URL.createObjectURL(file);
    const done = (value: number | null) => {
      clearTimeout(timer);
      URL.revokeObjectURL(url);
      el.removeAttribute('src');
      resolve(value);
    };
    const timer = setTimeout(() => done(null), 4000);
    el.preload = 'metadata';
    el.onloadedmetadata = () => done(Number.isFinite(el.duration) ? el.duration : null);
    el.onerror = () => done(null); // not playable here: the server's probe decides
    el.src = url;
  });
}
