from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        # Declare one Dramatiq actor per registered export type on every process, so the web
        # process can enqueue and workers can consume.
        from exports import actors, metrics  # noqa: F401 - metrics registers the job gauges
        from exportsite import tracing

        tracing.configure()  # only when OTEL_* ask for it: otherwise nothing of it is imported
        from exports.services.notifications import export_ended
        from exports.signals import export_ended as ended

        # The engine says a job ended; the notifications (a service) listen. weak=False: the
        # receiver is a module function that lives as long as the process anyway.
        ended.connect(export_ended, weak=False, dispatch_uid="exports.notifications")

    def start_inprocess_worker(self, *, threads: int):
        """The zero-setup worker inside a web process (gunicorn's post_worker_init calls this
        through the app registry, so the project config never imports the app's modules)."""
        from exports.inprocess import inprocess_worker_start

        return inprocess_worker_start(threads=threads)
