"""Request-side writes of export jobs: requesting, staff actions, CCPA deletion, retention and
orphans, notifications. Interfaces (API, admin, actors, commands) call these; running a job is
the engine's (exports/engine/)."""

from exports.services.requesting import export_request, parameters_digest

__all__ = ["export_request", "parameters_digest"]
