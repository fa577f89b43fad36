/** Export masks (PNG zip, COCO RLE JSON) and the rendered video with the current effect. */
import { useRef, useState } from 'react';
import { resolveApiUrl } from '../api/config';
import { useController, useDemoState } from '../app/useController';
import { buildCocoJson, buildMaskZip, downloadBlob, type ExportVideoInfo } from '../export/masksExport';
import { exportEffectVideo, videoExportUnsupportedReason } from '../export/videoExport';
import { effectFileTag } from '../render/effectCatalog';
import type { GlMask } from '../render/glEffects';
import { labelsOf } from '../state/labels';
import { promptedObjects } from '../state/prompts';

function baseName(path: string): string {
  const name = path.split('/').pop() ?? 'video';
  return name.replace(/\.[^.]+$/, '') || 'video';
}

export function ExportPanel() {
  const c = useController();
  const st = useDemoState();
  const [status, setStatus] = useState<string | null>(null);
  const [videoProgress, setVideoProgress] = useState<number | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const video = st.video;
  if (!video) return null;
  const info: ExportVideoInfo = { path: video.path, width: video.width, height: video.height, numFrames: video.numFrames, fps: video.fps };
  // Objects without a single mask pixel would only add empty files.
  const objects = st.objects.objects.filter((o) => c.masks.hasPixels(o.id));
  const skipped = st.objects.objects.length - objects.length;
  const unsupported = videoExportUnsupportedReason();
  // After a reload the masks come back from the server a moment later: not "nothing".
  const loading = (st.sessionStatus === 'starting' || st.sessionStatus === 'recovering') && promptedObjects(st.prompts).length > 0;
  const name = baseName(video.displayName || video.path);

  const exportZip = () => {
    try {
      const zip = buildMaskZip(info, objects, c.masks, labelsOf(st.objects));
      downloadBlob(zip as Uint8Array<ArrayBuffer>, `${name}_masks.zip`, 'application/zip');
      setStatus(`Saved ${objects.length * video.numFrames} PNG masks (${objects.length} object${objects.length === 1 ? '' : 's'} × ${video.numFrames} frames).`);
    } catch (err) {
      setStatus(`Mask export failed: ${(err as Error).message}`);
    }
  };

  const exportCoco = () => {
    try {
      const json = JSON.stringify(buildCocoJson(info, objects, c.masks, labelsOf(st.objects)));
      downloadBlob(json, `${name}_masks_coco.json`, 'application/json');
      setStatus('Saved COCO RLE JSON.');
    } catch (err) {
      setStatus(`COCO export failed: ${(err as Error).message}`);
    }
  };

  const exportVideo = async () => {
    const abort = new AbortController();
    abortRef.current = abort;
    setVideoProgress(0);
    setStatus('Rendering the video…');
    try {
      const colours = new Map(objects.map((o) => [o.id, o.color]));
      const blob = await exportEffectVideo({
        src: resolveApiUrl(video.url, c.client.baseUrl),
        width: video.width,
        height: video.height,
        fps: video.fps,
        numFrames: video.numFrames,
        effect: st.effect,
        signal: abort.signal,
        masksForFrame: (f) => {
          const out: GlMask[] = [];
          for (const [objectId, rle] of c.masks.frame(f)) {
            const color = colours.get(objectId);
            if (color) out.push({ color, rle, stale: false });
          }
          return out;
        },
        onProgress: (done, total) => setVideoProgress(Math.floor((100 * done) / total)),
      });
      downloadBlob(blob, `${name}_${effectFileTag(st.effect)}.mp4`, 'video/mp4');
      setStatus(`Saved the video (${(blob.size / 1048576).toFixed(1)} MB).`);
    } catch (err) {
      setStatus((err as Error).name === 'AbortError' ? 'Video export cancelled.' : `Video export failed: ${(err as Error).message}`);
    } finally {
      abortRef.current = null;
      setVideoProgress(null);
    }
  };

  return (
    <section className="panel export" aria-labelledby="export-heading">
      <h2 id="export-heading">Export</h2>
      <div className="row wrap">
        <button type="button" onClick={exportZip} disabled={objects.length === 0}>
          Export masks
        </button>
        <button type="button" onClick={exportCoco} disabled={objects.length === 0}>
          Export COCO JSON
        </button>
        {videoProgress === null ? (
          <button type="button" onClick={() => void exportVideo()} disabled={unsupported !== null || objects.length === 0}>
            Export video
          </button>
        ) : (
          <button type="button" onClick={() => abortRef.current?.abort()}>
            Cancel video export ({videoProgress}%)
          </button>
        )}
      </div>
      <p className="muted">
        {loading
          ? 'Loading the masks from the server…'
          : objects.length === 0
          ? 'Nothing to export yet: no object has a mask.'
          : `${objects.length} object${objects.length === 1 ? '' : 's'} with masks${skipped > 0 ? ` (${skipped} without masks left out)` : ''}.`}
      </p>
      {unsupported && <p className="muted">{unsupported}</p>}
      {status && (
        <p className="muted" role="status">
          {status}
        </p>
      )}
    </section>
  );
}
