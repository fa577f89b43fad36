/** Page layout: library on the left, the video in the middle, tools on the right. */
import { useEffect } from 'react';
import { EffectsPanel } from '../components/EffectsPanel';
import { ExportPanel } from '../components/ExportPanel';
import { Header, HelpOverlay, NoticeBar, RandomWeightsBanner } from '../components/Chrome';
import { ObjectList } from '../components/ObjectList';
import { PromptToolbar } from '../components/PromptToolbar';
import { SegmentEverythingPanel } from '../components/SegmentEverythingPanel';
import { TrackingPanel } from '../components/TrackingPanel';
import { Transport } from '../components/Transport';
import { VideoLibrary } from '../components/VideoLibrary';
import { VideoStage } from '../components/VideoStage';
import { useController, useDemoState } from './useController';
import { useKeyboard } from './useKeyboard';

export function App() {
  const c = useController();
  const videoPath = useDemoState().video?.path;
  useKeyboard(c);
  useEffect(() => {
    void c.init();
    const onUnload = () => c.closeSessionOnUnload();
    window.addEventListener('pagehide', onUnload);
    return () => window.removeEventListener('pagehide', onUnload);
  }, [c]);
  return (
    <div className="app">
      <Header />
      <RandomWeightsBanner />
      <main className="layout">
        <aside className="left">
          <VideoLibrary />
        </aside>
        <section className="center" aria-label="Video">
          <NoticeBar />
          <VideoStage />
          <Transport />
          <PromptToolbar />
        </section>
        <aside className="right">
          <ObjectList />
          <SegmentEverythingPanel />
          <TrackingPanel />
          <EffectsPanel />
          {/* keyed by video: export messages belong to the video they were made for */}
          <ExportPanel key={videoPath} />
        </aside>
      </main>
      <HelpOverlay />
    </div>
  );
}
