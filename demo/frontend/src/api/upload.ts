/**
 * Upload a video with the GraphQL multipart request spec, reporting progress.
 * XMLHttpRequest is used because fetch has no upload progress events.
 */
import { CLIENT_ID_HEADER, clientId } from './clientId';
import { ApiError, unwrapGraphQL } from './graphql';
import { withDefaults, type Video, type VideoFromServer } from './types';

export interface UploadOptions {
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
  startTimeSec?: number;
  durationTimeSec?: number;
  /** The Video fields to ask for (operations.videoFields: depends on the server's schema). */
  fields?: string;
}

const BASE_FIELDS = 'id path posterPath url posterUrl width height fps numFrames durationSec';

const uploadMutation = (fields: string) => `mutation UploadVideo($file: Upload!, $startTimeSec: Float, $durationTimeSec: Float) {
  uploadVideo(file: $file, startTimeSec: $startTimeSec, durationTimeSec: $durationTimeSec) {
    ${fields}
  }
}`;

/** Build the multipart form: operations, map, then the file as part "0". */
export function buildUploadForm(file: Blob, fileName: string, startTimeSec?: number, durationTimeSec?: number, fields = BASE_FIELDS): FormData {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({ query: uploadMutation(fields), variables: { file: null, startTimeSec: startTimeSec ?? null, durationTimeSec: durationTimeSec ?? null } }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, fileName);
  return form;
}

export function uploadVideo(baseUrl: string, file: File, opts: UploadOptions = {}): Promise<Video> {
  return new Promise<Video>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${baseUrl}/graphql`);
    xhr.setRequestHeader(CLIENT_ID_HEADER, clientId());
    xhr.responseType = 'text';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) opts.onProgress?.(e.loaded, e.total);
    };
    xhr.onerror = () => reject(new ApiError('The upload failed: the server could not be reached or closed the connection.'));
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
    xhr.onload = () => {
      if (xhr.status === 413) {
        reject(new ApiError('The file is too large for the server.'));
        return;
      }
      try {
        const payload = JSON.parse(xhr.responseText) as Parameters<typeof unwrapGraphQL<{ uploadVideo: VideoFromServer }>>[0];
        resolve(withDefaults(unwrapGraphQL(payload, xhr.status).uploadVideo));
      } catch (err) {
        reject(err instanceof ApiError ? err : new ApiError(`The server answered HTTP ${xhr.status} to the upload.`));
      }
    };
    opts.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(buildUploadForm(file, file.name, opts.startTimeSec, opts.durationTimeSec, opts.fields));
  });
}
