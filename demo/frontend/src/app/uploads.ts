/** Uploading a video: checks before sending, progress, cancel, then open it (other videos keep their work). */
import { uploadVideo } from '../api/upload';
import * as ops from '../api/operations';
import { checkUploadFile } from '../state/uploadCheck';
import type { Video } from '../api/types';
import type { PageHost } from './host';
import { probeVideoDuration } from './mediaProbe';
import { idleUpload } from './store';

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What an upload needs of the page beyond the basics: open the new video. */
export interface UploadHost extends PageHost {
  openVideo(video: Video): Promise<void>;
  refreshVideos(): Promise<void>;
}

export class UploadFlow {
  private abort: AbortController | null = null;
  private readonly c: UploadHost;

  constructor(controller: UploadHost) {
    this.c = controller;
  }

  get busy(): boolean {
    const s = this.c.getState().upload.status;
    return s === 'checking' || s === 'uploading' || s === 'processing';
  }

  /** Upload a file; `trimToLimit` keeps only its first maxDurationSec seconds. */
  async upload(file: File, trimToLimit = false): Promise<void> {
    const c = this.c;
    if (this.busy) {
      c.notify('An upload is already running: wait for it or cancel it first.');
      return;
    }
    c.set({ upload: { ...idleUpload, status: 'checking', total: file.size } });
    const check = checkUploadFile(file, c.limits, await probeVideoDuration(file));
    if (check && !(trimToLimit && check.tooLong)) {
      c.set({ upload: { ...idleUpload, status: 'error', error: check.problem, tooLong: check.tooLong ? file : null } });
      return;
    }
    const abort = new AbortController();
    this.abort = abort;
    c.set({ upload: { ...idleUpload, status: 'uploading', total: file.size } });
    try {
      const video = await uploadVideo(c.client.baseUrl, file, {
        signal: abort.signal,
        fields: await ops.videoFields(c.client),
        ...(trimToLimit ? { startTimeSec: 0, durationTimeSec: c.limits.maxDurationSec } : {}),
        onProgress: (sent, total) => {
          c.set({ upload: { ...idleUpload, status: sent >= total ? 'processing' : 'uploading', sent, total } });
        },
      });
      c.set({ upload: idleUpload });
      await c.refreshVideos();
      await c.openVideo(video);
    } catch (err) {
      const cancelled = (err as Error).name === 'AbortError';
      c.set({ upload: { ...idleUpload, status: cancelled ? 'idle' : 'error', error: cancelled ? null : `Upload failed: ${errorText(err)}` } });
    } finally {
      this.abort = null;
    }
  }

  cancel(): void {
    this.abort?.abort();
  }
}
