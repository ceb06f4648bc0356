"""Admin pages (admins only): who has a staff account. The rest of admin comes with the
clinic's settings (README, "Staff workspace")."""

from flask import render_template
from sqlalchemy import select

from ..extensions import db
from ..models import StaffUser
from . import bp
from .access import admin_only


@bp.get("/admin/staff")
@admin_only
def staff_accounts():
    accounts = list(db.session.scalars(select(StaffUser).order_by(StaffUser.name)))
    return render_template("staff/admin_staff.html", accounts=accounts)
