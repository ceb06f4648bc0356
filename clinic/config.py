"""Configuration read from the environment (README, "Configuration"); every variable is optional."""

import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _seconds(name: str, default: float, *, most: float) -> float:
    """A number of seconds from the environment, refused at start-up when it makes no sense.

    Twilio's timeout must stay far below the dispatcher's claim timeout (5 minutes), after
    which a send without an answer is checked with Twilio."""
    value = os.environ.get(name) or ""
    if not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= most:
        raise ValueError(f"{name} must be a number of seconds above 0 and at most {most:g}, "
                         f"not {value!r}.")
    return seconds


class Config:
    """Production and demo settings."""

    def __init__(self) -> None:
        env = os.environ.get
        default_db = f"sqlite:///{INSTANCE_DIR / 'clinic.db'}"
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL") or default_db
        self.SECRET_KEY = env("SECRET_KEY") or _dev_secret_key()
        self.CLINIC_NAME = env("CLINIC_NAME", "Clear Skin Clinic")
        self.CLINIC_PHONE = env("CLINIC_PHONE", "+14155550100")
        self.CLINIC_ADDRESS = env("CLINIC_ADDRESS", "500 Market Street, San Francisco, CA 94105")
        #: The cancellation policy in the clinic's words; by default it follows the rules.
        self.CLINIC_CANCELLATION_POLICY = env("CLINIC_CANCELLATION_POLICY", "")
        self.CLINIC_TIMEZONE = env("CLINIC_TIMEZONE", "America/Los_Angeles")
        self.CLINIC_REGION = env("CLINIC_REGION", "US")  #: where a phone typed without +country is
        self.PUBLIC_BASE_URL = (env("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
        self.SMS_BACKEND = env("SMS_BACKEND", "console")
        self.TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID")
        self.TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN")
        self.TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER")
        self.TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID")
        self.TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL")
        self.TWILIO_TIMEOUT = _seconds("TWILIO_TIMEOUT", 10.0, most=60.0)
        self.SCHEDULER_ENABLED = _flag("SCHEDULER_ENABLED", False)
        self.RATELIMIT_ENABLED = _flag("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", "memory://")
        #: Keeps several clinics (or test runs) apart in one Redis.
        self.RATELIMIT_KEY_PREFIX = env("RATELIMIT_KEY_PREFIX", "clinic")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.PUBLIC_BASE_URL.startswith("https://")
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        # Pages send no Referer (Referrer-Policy: no-referrer), so Flask-WTF's HTTPS Referer
        # check would refuse every form; the session-bound token and SameSite=Lax remain.
        self.WTF_CSRF_SSL_STRICT = False
        self.WTF_CSRF_TIME_LIMIT = None  # a manage page left open for hours still works
        # Forms, JSON and Twilio's webhooks all fit in a few KB; a larger body, chunked or not,
        # is refused with 413 as it is read, before anything parses it.
        self.MAX_CONTENT_LENGTH = 64 * 1024
        #: How many proxies in front set X-Forwarded-For/-Proto (0: none, trust no header).
        self.PROXY_COUNT = int(env("PROXY_COUNT", "0") or 0)
        #: Free-slot answers each web worker keeps per schedule version (README, "Speed and
        #: scale"); 0 computes every answer afresh.
        slot_cache = _count("SLOT_CACHE_SIZE", least=0)
        self.SLOT_CACHE_SIZE = 256 if slot_cache is None else slot_cache
        self.CLOCK = None  #: a callable returning aware UTC now; tests replace it


class TestConfig(Config):
    """Settings for the test suite: a given database, SMS in memory, no rate limits."""

    __test__ = False  # a settings class, not a pytest test class

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "test-secret"
        self.SQLALCHEMY_DATABASE_URI = database_url
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(database_url)
        self.SMS_BACKEND = "memory"
        self.PUBLIC_BASE_URL = "http://clinic.test"
        self.CLINIC_NAME = "Clear Skin Clinic"
        self.CLINIC_PHONE = "+14155550100"
        self.CLINIC_ADDRESS = "500 Market Street, San Francisco, CA 94105"
        self.CLINIC_TIMEZONE = "America/Los_Angeles"
        self.RATELIMIT_ENABLED = False
        self.SCHEDULER_ENABLED = False
        self.WTF_CSRF_ENABLED = False
        self.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
        self.TWILIO_AUTH_TOKEN = "test-auth-token"
        self.TWILIO_FROM_NUMBER = "+15005550006"


def _count(name: str, *, least: int) -> int | None:
    """A whole number from the environment (None when unset), refused at start-up when bad."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < least:
        raise ValueError(f"{name} must be a whole number of at least {least}, not {value!r}.")
    return int(value)


def engine_options(url: str) -> dict:
    # Query parameters hold phone numbers and message bodies: errors must not print them.
    if url.startswith("sqlite"):
        # Writers wait for each other instead of failing at once.
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    options = {"pool_pre_ping": True, "hide_parameters": True}
    # Each process's pool counts against the server's max_connections (deploy/README.md):
    # DB_POOL_SIZE connections kept open, DB_MAX_OVERFLOW more opened at a peak. Unset, they
    # are SQLAlchemy's 5 and 10.
    pool_size = _count("DB_POOL_SIZE", least=1)
    max_overflow = _count("DB_MAX_OVERFLOW", least=0)
    if pool_size is not None:
        options["pool_size"] = pool_size
    if max_overflow is not None:
        options["max_overflow"] = max_overflow
    return options


def _dev_secret_key() -> str:
    """A key kept under instance/ so sessions survive restarts of the demo."""
    path = INSTANCE_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        import secrets

        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
