"""SAM 2 demo backend: a Flask + Strawberry GraphQL server speaking the official SAM 2 demo API.

Layers, each in its own module (a request only ever flows downwards):

- transport: `app` (factory), `schema` (GraphQL), `streaming` (multipart propagation),
  `routes` (static files, health, export)
- `service`: validates requests and runs them against a session under its own lock
- `sessions` (store: per-session locks, LRU, TTL) and `inference` (the SAM 2 predictor calls)
- `library` (gallery and uploads on disk), `media` (probe, transcode, posters)
- `rle` (COCO run-length encoding), `settings` (environment, read once), `errors`
"""
