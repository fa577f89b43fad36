"""SAM 2 web demo: the server (`demo.backend`), the browser frontend (`demo/frontend`), test helpers (`demo.testing`)."""
