import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { DemoController } from './app/controller';
import { ControllerContext } from './app/useController';
import { CameraPage } from './live/CameraPage';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

// `/camera` is the live camera page (src/live/); everything else is the video editor.
createRoot(root).render(
  <StrictMode>
    {window.location.pathname === '/camera' ? (
      <CameraPage />
    ) : (
      <ControllerContext.Provider value={new DemoController()}>
        <App />
      </ControllerContext.Provider>
    )}
  </StrictMode>,
);
