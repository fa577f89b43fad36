import { describe, expect, it } from 'vitest';
import { resolveApiUrl } from './config';
import { ApiError, unwrapGraphQL } from './graphql';
import { buildUploadForm } from './upload';

describe('GraphQL responses', () => {
  it('returns data', () => {
    expect(unwrapGraphQL({ data: { a: 1 } }, 200)).toEqual({ a: 1 });
  });
  it('throws the first error with its code', () => {
    let caught: unknown;
    try {
      unwrapGraphQL({ data: null, errors: [{ message: 'Session abc expired', extensions: { code: 'SESSION_EXPIRED' } }] }, 200);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect((caught as ApiError).message).toBe('Session abc expired');
    expect((caught as ApiError).code).toBe('SESSION_EXPIRED');
    expect((caught as ApiError).sessionGone).toBe(true);
  });
  it('takes an expired and an unknown session alike as gone, by code or wording', () => {
    expect(new ApiError('x', 'SESSION_EXPIRED').sessionGone).toBe(true);
    expect(new ApiError('Unknown session: it may have expired').sessionGone).toBe(true);
    expect(new ApiError('Unknown session id; start a session first.', 'NOT_FOUND').sessionGone).toBe(true);
    expect(new ApiError('frame index out of range', 'BAD_REQUEST').sessionGone).toBe(false);
    expect(new ApiError('No such video', 'NOT_FOUND').sessionGone).toBe(false);
  });
  it('tells a revoked share link and a view-only refusal from a gone session', () => {
    const revoked = new ApiError('This share link was revoked by the owner of the work; ask for a new one.', 'NOT_FOUND');
    expect([revoked.linkGone, revoked.sessionGone, revoked.readOnly]).toEqual([true, false, false]);
    const readOnly = new ApiError('This link is view-only: you can play, apply effects and export, but not edit.', 'READ_ONLY');
    expect([readOnly.linkGone, readOnly.sessionGone, readOnly.readOnly]).toEqual([false, false, true]);
  });
  it('complains about an answer without data', () => {
    expect(() => unwrapGraphQL({}, 502)).toThrow(/HTTP 502 without data/);
  });
});

describe('URLs', () => {
  it('resolves server paths against the API base', () => {
    expect(resolveApiUrl('/gallery/a.mp4', 'http://h:1')).toBe('http://h:1/gallery/a.mp4');
    expect(resolveApiUrl('https://cdn.example/x.mp4', 'http://h:1')).toBe('https://cdn.example/x.mp4');
    expect(resolveApiUrl('/posters/a.jpg', 'http://h:1/api')).toBe('http://h:1/posters/a.jpg');
  });
});

describe('upload form (GraphQL multipart request spec)', () => {
  it('sends operations, map and the file in that order', async () => {
    const form = buildUploadForm(new Blob(['abc'], { type: 'video/mp4' }), 'clip.mp4', 1.5, 4);
    expect([...form.keys()]).toEqual(['operations', 'map', '0']);
    const ops = JSON.parse(form.get('operations') as string);
    expect(ops.query).toMatch(/uploadVideo\(file: \$file, startTimeSec: \$startTimeSec, durationTimeSec: \$durationTimeSec\)/);
    expect(ops.variables).toEqual({ file: null, startTimeSec: 1.5, durationTimeSec: 4 });
    expect(JSON.parse(form.get('map') as string)).toEqual({ 0: ['variables.file'] });
    const file = form.get('0') as File;
    expect(file.name).toBe('clip.mp4');
    expect(await file.text()).toBe('abc');
  });
});
