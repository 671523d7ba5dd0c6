"""`tourflow serve`: gunicorn in production, with Werkzeug as the fallback where it is missing."""

from __future__ import annotations

from collections.abc import Callable

from . import create_app


def serve_app(host: str, port: int, workers: int, echo: Callable[[str], None] = print) -> None:
    app = create_app()
    app.extensions["tourflow"].runtime  # noqa: B018 - migrate once, before the workers fork
    echo(f"tourflow inbox on http://{host}:{port}/  (database: {app.config['DATABASE_URL']})")
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        app.run(host=host, port=port, threaded=True)
        return

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            # gunicorn's control socket lives in ~/.gunicorn by default: two servers on one
            # machine would share it, and we have no use for it.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            return create_app()

    Server().run()
