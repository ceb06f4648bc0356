"""Admin pages (admins only): the index of what admins manage, and the clinic's rules."""

from flask import render_template

from . import bp
from .access import admin_only


@bp.get("/admin/")
@admin_only
def admin_index():
    return render_template("staff/admin_index.html")
