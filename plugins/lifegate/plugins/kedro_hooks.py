"""lifegate's Kedro hooks: each hook turns Kedro's context into core gate calls.

Registered for every Kedro project through the ``kedro.hooks`` entry point (``hooks`` below),
or explicitly in ``settings.py`` with ``HOOKS = (LifegateHooks(),)``. A project without
``conf/<env>/lifegate.yml`` is left alone. What runs where (see docs/kedro.md):

- before the pipeline: the design-phase gates (threat model, inventory);
- after a dataset named in ``kedro.datasets`` is loaded: LG-DATA (or the rule's gates);
- before a model named in ``kedro.models`` is loaded: LG-VERIFY and LG-SCAN;
- after the pipeline, for each model it saved: LG-SCAN, LG-SIGN, LG-SBOM, LG-DISCLOSE ...;
- a failed run is recorded in the ledger (also when a gate fails before or after the run,
  where Kedro calls no ``on_pipeline_error``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from lifegate.plugins._kedro_run import KedroGateFailed, KedroRun

__all__ = ["KedroGateFailed", "LifegateHooks", "hooks"]

log = logging.getLogger(__name__)

# The context of the current session and the hooks object that serves it, so that hooks
# registered both by entry point and in settings.py run the gates once, not twice.
_owner: list[tuple[object, LifegateHooks]] = []


def _claim(hooks: LifegateHooks, context: object) -> bool:
    if _owner and _owner[0][0] is context:
        return _owner[0][1] is hooks
    _owner[:] = [(context, hooks)]
    return True


class LifegateHooks:
    """Kedro hooks that run lifegate's gates; configured by ``conf/<env>/lifegate.yml``."""

    def __init__(self) -> None:
        self.run: KedroRun | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        from lifegate.plugins._kedro_config import load_config

        self.run = None
        if not _claim(self, context):
            return
        config = load_config(context.config_loader, Path(context.project_path))
        if config is None or not config.kedro.enabled:
            return
        self.run = KedroRun(config)
        log.info("lifegate: governing this run with %s",
                 ", ".join(str(f) for f in config.files))

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], catalog: Any) -> None:
        if self.run is not None:
            self.run.start(run_params, catalog)
            self.run.guarded("before_pipeline_run", self.run.before_pipeline)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        if self.run is not None:
            self.run.model_loading(dataset_name, getattr(node, "name", None))

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        if self.run is not None:
            self.run.dataset_loaded(dataset_name, getattr(node, "name", None))

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if self.run is not None:
            self.run.saved.add(dataset_name)

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        if self.run is not None:
            self.run.node_started(node.name)

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        if self.run is not None:
            self.run.node_finished(node.name)

    @hook_impl
    def on_node_error(self, node: Any) -> None:
        if self.run is not None:
            self.run.failed_node = node.name

    @hook_impl
    def after_pipeline_run(self, pipeline: Any) -> None:
        if self.run is not None:
            self.run.guarded("after_pipeline_run", self.run.after_pipeline, pipeline)

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        if self.run is not None:
            self.run.record_failure(error, "on_pipeline_error")


hooks = LifegateHooks()
