"""Process owner pages. (Being built.)"""

from flask import Blueprint

bp = Blueprint("processes", __name__)


@bp.route("/processes")
def index():
    return "processes"
