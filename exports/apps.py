from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        # Declare one Dramatiq actor per registered export type on every process, so the web
        # process can enqueue and workers can consume.
        from exports import actors, metrics  # noqa: F401 - metrics registers the job gauges
