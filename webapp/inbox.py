"""The inbox: the tasks of my lanes. (Being built.)"""

from flask import Blueprint

bp = Blueprint("inbox", __name__)


@bp.route("/")
def index():
    return "inbox"
