/** Page layout: library on the left, the video and its timeline in the middle, tools on the right (stacked on narrow screens, video first). */
import { useEffect } from 'react';
import { EffectsPanel } from './components/EffectsPanel';
import { ExportPanel } from './components/ExportPanel';
import { LabelsPanel } from './components/LabelsPanel';
import { DropOverlay, Header, HelpOverlay, NoticeBar, RandomWeightsBanner } from './components/Chrome';
import { ObjectList } from './components/ObjectList';
import { PromptToolbar } from './components/PromptToolbar';
import { SegmentEverythingPanel } from './components/SegmentEverythingPanel';
import { SharePanel } from './components/SharePanel';
import { Timeline } from './components/Timeline';
import { TrackingPanel } from './components/TrackingPanel';
import { Transport } from './components/Transport';
import { VideoLibrary } from './components/VideoLibrary';
import { VideoStage } from './components/VideoStage';
import { shareToOpen, videoToReopen } from './app/pageMemory';
import { useController, useDemoState } from './app/useController';
import { useKeyboard } from './app/useKeyboard';

export function App() {
  const c = useController();
  const videoPath = useDemoState().video?.path;
  useKeyboard(c);
  useEffect(() => {
    void c.init(videoToReopen(), shareToOpen());
    // Sessions stay open on the server when the page goes: a reload resumes them.
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      c.sessions.save();
      if (c.hasWorkInFlight()) {
        e.preventDefault(); // the browser asks whether to leave
        e.returnValue = '';
      }
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [c]);
  return (
    <div className="app">
      <Header />
      <RandomWeightsBanner />
      <main className="layout">
        <section className="center" aria-label="Video">
          <NoticeBar />
          <VideoStage />
          <Transport />
          <PromptToolbar />
          <Timeline />
        </section>
        <aside className="left" aria-label="Videos">
          <VideoLibrary />
        </aside>
        <aside className="right" aria-label="Objects and tools">
          <ObjectList />
          <SegmentEverythingPanel />
          <TrackingPanel />
          <EffectsPanel />
          {/* keyed by video: export messages belong to the video they were made for */}
          <ExportPanel key={videoPath} />
          {/* the label set: the categories of the COCO export (below it, so Export stays in view with many objects) */}
          <LabelsPanel />
          <SharePanel key={`share-${videoPath}`} />
        </aside>
      </main>
      <HelpOverlay />
      <DropOverlay />
    </div>
  );
}
