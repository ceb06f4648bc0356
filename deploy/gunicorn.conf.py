"""gunicorn settings for the clinic's web processes.

    gunicorn -c deploy/gunicorn.conf.py

Read from the environment (the same /etc/clinic/clinic.env as the app, see clinic.env.example):
GUNICORN_BIND, GUNICORN_WORKERS (2), GUNICORN_THREADS (4), GUNICORN_TIMEOUT (30) and
FORWARDED_ALLOW_IPS. Every worker is one process with its own database pool
(DB_POOL_SIZE + DB_MAX_OVERFLOW connections at most): deploy/README.md counts them against
PostgreSQL's max_connections before you raise workers or threads.
"""

import os
from pathlib import Path


def _whole(name: str, default: int) -> int:
    value = (os.environ.get(name) or "").strip() or str(default)
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}.")
    return int(value)


wsgi_app = "wsgi:app"
#: The checkout (this file's parent's parent), so `wsgi` imports from wherever gunicorn starts.
chdir = str(Path(__file__).resolve().parent.parent)

#: Where the reverse proxy reaches us: "127.0.0.1:8000", or "unix:/run/clinic/web.sock";
#: several addresses separated by commas.
bind = [b.strip() for b in (os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000").split(",")
        if b.strip()]

# Threads share a worker's memory and its database pool; each request holds at most one
# connection, so a worker needs at most `threads` of them at a time.
worker_class = "gthread"
workers = _whole("GUNICORN_WORKERS", 2)
threads = _whole("GUNICORN_THREADS", 4)

#: A worker silent for this long is restarted. Requests are short (no Twilio call is made
#: while a page waits: the dispatcher sends); this only catches a stuck worker.
timeout = _whole("GUNICORN_TIMEOUT", 30)
#: On SIGTERM or a reload, requests in progress get this long to finish.
graceful_timeout = 30
#: Behind a reverse proxy that keeps connections to us open.
keepalive = 5
#: Heartbeat files in memory, not on a disk that may stall (or a read-only /tmp).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

#: Off: each worker builds the app (and its database pool) after the fork, so no connection
#: is ever shared between processes, and `systemctl reload` (HUP) loads new code.
preload_app = False

#: gunicorn trusts X-Forwarded-Proto (for wsgi.url_scheme) only from these addresses: the
#: reverse proxy's. The app itself reads X-Forwarded-For/-Proto/-Host only when PROXY_COUNT
#: says how many proxies set them (werkzeug's ProxyFix); set both for the same proxy. Never
#: "*" unless nothing but the proxy can reach the bind address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"

# Logs go to standard output and error: journald (or the platform) keeps them.
accesslog = "-"
errorlog = "-"
loglevel = "info"
#: Through clinic/logredact.py, which filters gunicorn.access and gunicorn.error in every
#: worker (create_app installs it): manage tokens, credentials, cookies and full phone numbers
#: in the request line, query, Referer and any header printed here are masked. %(h)s is the
#: client's address once ProxyFix (PROXY_COUNT) has read X-Forwarded-For; %(u)s (the Basic
#: auth user) is left out on purpose.
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'

#: The app answers in the clinic's words; keep gunicorn's own limits near the app's 64 KB body.
limit_request_line = 8190
#: Recent gunicorn opens a control socket under $HOME; the service has no home to write to.
control_socket_disable = True
proc_name = "clinic-web"
