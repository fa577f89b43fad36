"""Where a user's work lives outside the process: the database (`database.py`), the thread
that writes to it (`writer.py`) and the prompt events a session is rebuilt from (`replay.py`)."""
