"""The worker side: running one claimed export (claim, snapshot, resume, write, finish), how an
unfinished run ends, the output shapes, the part uploader, the PostgreSQL COPY fast path, and
the reconciler that ends runs whose worker is gone. The request side is exports/services/."""

from exports.engine.run import export_run, export_time_limit

__all__ = ["export_run", "export_time_limit"]
