"""The model layer: the ModelDeployment controller (sizing, engine workloads, readiness, telemetry,
autoscaling). Start it with ``infleet.models.manager.add_models_controller`` or ``build_manager``."""
