"""The pages' POST forms (Flask-WTF): each carries a CSRF token; lookups are GET forms and need none."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a change, so it is a POST."""


class PublishForm(FlaskForm):
    confirm = BooleanField(_l("I have reviewed this draft's differences and impact"), validators=[DataRequired()])


class DraftForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Length(max=200)])
    document = FileField(_l("Rulebook file (JSON or YAML)"), validators=[FileRequired()])
