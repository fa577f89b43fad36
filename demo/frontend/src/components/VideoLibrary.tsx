/** The server's videos with posters, and uploads by drag and drop or file picker. */
import { useRef } from 'react';
import { resolveApiUrl } from '../api/config';
import { useController, useDemoState } from '../app/useController';

export function VideoLibrary() {
  const c = useController();
  const st = useDemoState();
  const fileRef = useRef<HTMLInputElement | null>(null);
  const { maxUploadMb, maxDurationSec } = c.limits;
  const up = st.upload;
  const uploading = up.status === 'uploading' || up.status === 'processing' || up.status === 'checking';
  const pct = up.total > 0 ? Math.floor((100 * up.sent) / up.total) : 0;

  const onFiles = (files: FileList | null) => {
    const file = files?.[0];
    if (file) void c.upload(file);
  };

  return (
    // Drops anywhere in the window upload (Chrome.tsx: DropOverlay).
    <section className="panel library" aria-labelledby="library-heading">
      <h2 id="library-heading">Videos</h2>
      <ul className="gallery">
        {st.videos.map((v) => {
          const current = st.video?.path === v.path;
          const facts = `${v.width}×${v.height} · ${v.durationSec.toFixed(1)} s · ${v.numFrames} ${v.numFrames === 1 ? 'frame' : 'frames'}`;
          return (
            <li key={v.id}>
              <button
                type="button"
                className={current ? 'video-card current' : 'video-card'}
                aria-current={current}
                title={v.path}
                onClick={() => void c.openVideo(v)}
              >
                {v.posterUrl ? <img src={resolveApiUrl(v.posterUrl, c.client.baseUrl)} alt="" loading="lazy" /> : <span className="poster-missing" />}
                {/* The hidden commas keep a screen reader from running name and facts together. */}
                <span className="video-title">
                  {v.displayName}
                  {v.isUpload && (
                    <>
                      <span className="visually-hidden">, </span>
                      <span className="badge">yours</span>
                    </>
                  )}
                </span>
                <span className="visually-hidden">, </span>
                <span className="muted">{facts}</span>
              </button>
            </li>
          );
        })}
      </ul>
      <div className="upload">
        <input ref={fileRef} type="file" accept="video/*" hidden onChange={(e) => { onFiles(e.target.files); e.target.value = ''; }} aria-label="Video file" />
        <button type="button" onClick={() => fileRef.current?.click()} disabled={uploading}>
          Upload video
        </button>
        <a href="/camera">Live camera</a>
        <p className="muted">
          or drop a file anywhere · up to {maxUploadMb} MB and {maxDurationSec} s
        </p>
        {uploading && (
          <>
            <div className="progress small" role="progressbar" aria-label="Upload progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
              <div className="progress-fill running" style={{ width: `${pct}%` }} />
            </div>
            <p className="muted" role="status">
              {up.status === 'checking' ? 'Checking the file…' : up.status === 'processing' ? 'Processing on the server…' : `Uploading ${pct}%`}{' '}
              {up.status === 'uploading' && (
                <button type="button" className="link" onClick={() => c.cancelUpload()}>
                  Cancel upload
                </button>
              )}
            </p>
          </>
        )}
        {up.status === 'error' && up.error && (
          <p className="error" role="alert">
            {up.error}
          </p>
        )}
        {up.status === 'error' && up.tooLong && (
          <button type="button" onClick={() => up.tooLong && void c.upload(up.tooLong, true)}>
            Upload the first {maxDurationSec} s
          </button>
        )}
      </div>
    </section>
  );
}
