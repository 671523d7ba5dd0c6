"""The JSON API under /api/v1. (Being built.)"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.route("/instances/<int:instance_id>/diagram")
def instance_diagram(instance_id: int):
    return {}


@bp.route("/processes/<process_id>/versions/<int:version>/diagram")
def process_diagram(process_id: str, version: int):
    return {}
