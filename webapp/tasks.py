"""Task pages and starting processes. (Being built.)"""

from flask import Blueprint

bp = Blueprint("tasks", __name__)


@bp.route("/tasks/<int:task_id>")
def detail(task_id: int):
    return str(task_id)


@bp.route("/start")
def start_list():
    return "start"
