"""Forms of the analytics pages. Fields check presence only; the services (app/analytics/exports.py and
reports.read_period) validate the rest, and their errors are put next to the field with core.forms.apply_error."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from app.analytics.exports import FORMATS, REPORT_TYPES


class ExportForm(FlaskForm):
    """Export a report of a funnel: which one, as what, over which days (the page's range by default)."""

    report_type = SelectField("Report", choices=[SelectChoice(key, label) for key, label in REPORT_TYPES.items()],
                              validate_choice=False)
    format = SelectField("Format", choices=[SelectChoice(key, label) for key, label in FORMATS.items()],
                         validate_choice=False)
    date_from = StringField("From", render_kw={"type": "date", "class": "input"})
    date_to = StringField("To", render_kw={"type": "date", "class": "input"},
                          description="At most a year; days in the workspace's time zone.")
    include_charts = BooleanField("Include charts (PDF and Excel)", default=True)


class ReportFilterForm(FlaskForm):
    """The range of a report tab (and the buckets of its charts): a GET form, read from the address, no CSRF.
    reports.read_period checks it (at most a year, in order, hour/day/week)."""

    class Meta:
        csrf = False

    date_from = StringField("From", render_kw={"type": "date"})
    date_to = StringField("To", render_kw={"type": "date"})
    granularity = SelectField("Group by", choices=[SelectChoice("hour", "Hour"), SelectChoice("day", "Day"),
                                              SelectChoice("week", "Week")], validate_choice=False)
