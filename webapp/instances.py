"""Instance pages. (Being built.)"""

from flask import Blueprint

bp = Blueprint("instances", __name__)


@bp.route("/instances")
def index():
    return "instances"


@bp.route("/instances/<int:instance_id>")
def detail(instance_id: int):
    return str(instance_id)
