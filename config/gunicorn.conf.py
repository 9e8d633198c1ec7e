"""gunicorn settings for `make run` and a starting point for production.

Threads keep memory low (uploads stream to storage, so a thread never holds a
whole file). The bind address comes from EDMS_PORT (default 5000).
"""

import os

bind = f"127.0.0.1:{os.environ.get('EDMS_PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
timeout = 300  # large uploads on slow links
graceful_timeout = 30
# gunicorn 27 opens a control socket at one fixed path in $HOME; two instances would clash.
control_socket_disable = True
# No access log by default: it would record client addresses (personal data).
accesslog = None
