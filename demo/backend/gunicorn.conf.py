# ruff: noqa: N999 - gunicorn looks for this file name
"""gunicorn settings for the SAM 2 demo backend.

    gunicorn -c demo/backend/gunicorn.conf.py 'demo.backend.app:create_app()'

Why one worker: a session's inference state (decoded frames, memory bank) lives in the memory
of the process that holds it, and the model weights are loaded once per process. To scale out,
run several of these servers (one per GPU) on one database behind a proxy that routes by the
`X-Route-Key` header (docker/haproxy.cfg; README "Several workers"); a session that reaches a
worker that does not hold it is rebuilt there from the database.

Why gthread and 32 threads: a propagation streams for as long as it runs and keeps its thread;
clicks, cancels and uploads of other users need free threads meanwhile. At most
MAX_PROPAGATIONS (default 4) streams run at once (more are answered "busy"), so at least 28
threads stay free for short requests: a cancel always finds one. Threads are cheap; the model
work itself is bounded by the CPU/GPU, not by this number.

Why our own worker class: plain gthread lets a client that sends its request slowly, or stops
reading its response, hold a request thread for as long as it likes; a few dozen such sockets
lock everyone out. `worker.BufferingThreadWorker` reads request heads and small bodies in the
event loop (as a buffering proxy would) and puts deadlines on every read and write; see its
docstring and the CLIENT_*_TIMEOUT_SEC settings.

Environment: PORT [7262], HOST [0.0.0.0], GUNICORN_THREADS [32], GUNICORN_TIMEOUT [120],
GUNICORN_CONNECTIONS [1000] (open connections at once, slow ones included).
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '7262')}"
workers = 1
worker_class = "demo.backend.worker.BufferingThreadWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS", "1000"))
# The gthread heartbeat runs outside request threads, so long streams do not trip this timeout;
# it only catches a worker that is stuck as a whole (e.g. while loading the model).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 10
keepalive = 5
# Uploads are streamed by the app itself (Werkzeug to a temporary file). Request heads are bounded
# as a whole (64 KB) by the worker's event loop; gunicorn's per-line limits (8 KB) would refuse a
# single long header or URL well inside that bound, so they are lifted to it.
limit_request_field_size = 64 * 1024
limit_request_line = 0  # 0: gunicorn's own cap (1 MB), far above the worker's 64 KB head bound
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# No control socket: several servers (tests, one per GPU) may run on one machine.
control_socket_disable = True
