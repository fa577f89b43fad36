// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from 'vitest';
import { clientId } from '../api/clientId';
import { loadWork, saveWorks, showVideoInUrl, videoToReopen } from './pageMemory';

const work = (sessionId: string | null) => ({
  sessionId,
  objects: { objects: [{ id: 1, name: 'dog', color: '#3b82f6' }], selectedId: 1, nextId: 2 },
  prompts: { '1:0': { points: [{ x: 0.5, y: 0.5, label: 1 as const }], box: null } },
  stale: { 1: [3, 4] },
  currentFrame: 7,
});

describe('page memory', () => {
  beforeEach(() => {
    localStorage.clear();
    window.history.replaceState(null, '', '/');
  });

  it('keeps each video\'s work and the video to reopen', () => {
    saveWorks({ 'gallery/a.mp4': work('s1'), 'gallery/b.mp4': work(null) }, 'gallery/b.mp4');
    expect(loadWork('gallery/a.mp4')?.sessionId).toBe('s1');
    expect(loadWork('gallery/a.mp4')?.prompts['1:0'].points).toHaveLength(1);
    expect(loadWork('gallery/c.mp4')).toBeNull();
    expect(videoToReopen()).toBe('gallery/b.mp4');
    // The URL wins over the last video.
    showVideoInUrl('gallery/a.mp4');
    expect(window.location.search).toBe('?video=gallery%2Fa.mp4');
    expect(videoToReopen()).toBe('gallery/a.mp4');
  });

  it('ignores damaged storage instead of failing', () => {
    localStorage.setItem('sam2-demo-work-v1', '{not json');
    expect(loadWork('gallery/a.mp4')).toBeNull();
    localStorage.setItem('sam2-demo-work-v1', JSON.stringify({ lastVideo: 3, videos: { 'gallery/a.mp4': { sessionId: 5 } } }));
    expect(loadWork('gallery/a.mp4')).toBeNull();
    expect(videoToReopen()).toBeNull();
    saveWorks({ 'gallery/a.mp4': work('s2') }, null);
    expect(loadWork('gallery/a.mp4')?.sessionId).toBe('s2');
  });

  it('gives the browser one stable client id in the server\'s format', () => {
    const id = clientId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(clientId()).toBe(id);
    expect(localStorage.getItem('sam2-demo-client-id')).toBe(id);
  });
});
