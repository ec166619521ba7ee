"""Log in and out: an e-mail and password become a signed, HttpOnly, SameSite session cookie."""

from __future__ import annotations

import threading
import time
from collections import deque

from flask import abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from registry.db import get_session
from registry.services import accounts
from registry.web import bp
from registry.web.forms import LoginForm, LogoutForm

# Failed log-ins per e-mail and per client address in a sliding window; past the limit, further attempts wait.
# Per process: behind several workers the limit multiplies, which still stops a guessing run.
FAILURE_WINDOW_SECONDS = 15 * 60
FAILURE_LIMIT = 10
_failures: dict[str, deque[float]] = {}
_failures_lock = threading.Lock()


def _throttled(keys: list[str]) -> bool:
    now = time.monotonic()
    with _failures_lock:
        for key in keys:
            recent = _failures.get(key)
            while recent and now - recent[0] > FAILURE_WINDOW_SECONDS:
                recent.popleft()
            if recent and len(recent) >= FAILURE_LIMIT:
                return True
    return False


def _record_failure(keys: list[str]) -> None:
    now = time.monotonic()
    with _failures_lock:
        if len(_failures) > 100_000:
            _failures.clear()
        for key in keys:
            _failures.setdefault(key, deque(maxlen=FAILURE_LIMIT * 2)).append(now)


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no '//') may be a redirect target after log-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def home_of(account: accounts.Account) -> str:
    if account.kind == "manufacturer":
        return url_for("web.maker_dashboard", manufacturer_id=account.org_id)
    if account.kind in ("regulator", "admin"):
        return url_for("web.coverage")
    if account.kind == "lab":
        return url_for("web.lab", lab_id=account.org_id)
    return url_for("web.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    error = None
    status = 200
    if form.validate_on_submit():
        keys = [f"email:{form.email.data.strip().lower()}", f"ip:{request.remote_addr}"]
        if _throttled(keys):
            error = _("Too many failed attempts. Wait 15 minutes and try again.")
            status = 429
        else:
            account = accounts.authenticate(get_session(), form.email.data, form.password.data)
            if account is None:
                _record_failure(keys)
                error = _("The e-mail address or the password is wrong.")
                status = 401
            else:
                session.clear()  # no state carried over from before the log-in
                session.permanent = True
                session["uid"] = account.user_id
                session["tok"] = account.session_token
                return redirect(safe_next(form.next.data) or home_of(account))
    elif request.method == "POST":
        status = 400
        error = _("The form was incomplete or expired; please try again.")
    return render_template("login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    session.clear()
    return redirect(url_for("web.index"))


@bp.app_context_processor
def logout_form():
    return {"logout_form": LogoutForm() if g.get("account") else None}
