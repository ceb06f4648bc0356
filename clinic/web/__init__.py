"""Server-rendered pages: the client booking flow, the manage page, health."""

from .booking import bp as booking_bp
from .health import bp as health_bp
from .manage import bp as manage_bp
from .webhooks import bp as webhooks_bp

__all__ = ["booking_bp", "health_bp", "manage_bp", "webhooks_bp"]
