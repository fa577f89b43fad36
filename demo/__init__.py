"""SAM 2 web demo: the backend server (`demo.backend`) and the browser frontend (`demo/frontend`)."""
