"""`ForgettingCallback`: forgetting measured inside a transformers `Trainer` run, as it trains.

At `on_train_begin` the model in memory is the base; it is evaluated on the probe set
(`forgetmap.integrations.probes`) and stored as `<run>/step-0`. At each save (or every N steps)
the model in memory, with no reload, is evaluated on the same probes and stored as
`<run>/step-<N>` (`forgetmap.track.naming`), then compared with the base by `forgetmap.compare`;
F_true, BT_true and accuracy per category and Total go to the trainer's loggers through
`trainer.log` (TensorBoard, W&B, ...: whatever `report_to` names) and to `trainer_state.json`'s
log history. `forgetmap track --run-name <run> --results <dir>` and `forgetmap report` read the
same records.

Trainer calls a callback's events by name (`CallbackHandler.call_event`), so this class needs no
transformers import: events it does not handle are no-ops (`__getattr__`). A rerun or a resumed
run finds the steps already stored and evaluates nothing twice (the runner's resume).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forgetmap.errors import ForgetmapError
from forgetmap.integrations.probes import ProbeSet, probe_set
from forgetmap.track.naming import checkpoint_model_name

LOGGED = (("F_true", "F_true"), ("BT_true", "BT_true"), ("acc", "acc_post"))


def _noop(*_: Any, **__: Any) -> None:
    return None


class ForgettingCallback:
    """Probe forgetting at each checkpoint of a transformers/TRL training run.

    `results`: the results store; `run_name`: the run's name in it; `probes`: a ProbeSet (default
    `probe_set()`); `every_n_steps`: probe every N optimizer steps instead of at each save;
    `elicitation`: "loglik" (fast, the default) or a generation elicitation, with `eval_kw`
    passed to `forgetmap.evaluate` (max_new_tokens, temperature...). Call `attach(trainer)`
    (or pass `trainer=`) so the metrics reach the trainer's loggers; without a trainer they go
    to the store and the trainer state's log history only.
    """

    def __init__(
        self,
        results: str | os.PathLike[str],
        run_name: str,
        probes: ProbeSet | None = None,
        every_n_steps: int | None = None,
        seeds: Sequence[int] = (0,),
        elicitation: str = "loglik",
        batch_size: int = 8,
        data_dir: str | os.PathLike[str] | None = None,
        protocol: str | None = None,
        bootstrap: int = 1000,
        prefix: str = "forgetmap",
        tokenizer: Any = None,
        trainer: Any = None,
        progress: bool = False,
        **eval_kw: Any,
    ):
        if every_n_steps is not None and every_n_steps < 1:
            raise ForgetmapError(f"every_n_steps must be at least 1, got {every_n_steps}")
        checkpoint_model_name(run_name, 0)  # an empty run name fails here, not mid-training
        self.results, self.run_name = Path(results), run_name
        self.seeds = [int(s) for s in seeds]
        self.probes = probes or probe_set(n_seeds=len(self.seeds), data_dir=data_dir)
        self.every_n_steps, self.elicitation = every_n_steps, elicitation
        self.batch_size, self.data_dir, self.protocol = batch_size, data_dir, protocol
        self.bootstrap, self.prefix, self.progress = bootstrap, prefix, progress
        self.tokenizer, self.trainer, self.eval_kw = tokenizer, trainer, eval_kw
        self.base: str | None = None
        self.history: list[tuple[int, dict[str, float]]] = []  # (step, logged metrics)
        self._probed: set[int] = set()
        self._warned_no_trainer = False

    def attach(self, trainer: Any) -> ForgettingCallback:
        """Register on `trainer` and log through it; returns self."""
        self.trainer = trainer
        trainer.add_callback(self)
        return self

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("on_"):
            return _noop
        raise AttributeError(name)

    # -- events -----------------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        """Evaluate the base (the model as training starts) as `<run>/step-0`."""
        if not state.is_world_process_zero:
            return
        base = checkpoint_model_name(self.run_name, 0)
        if state.global_step > 0 and base not in self._store().models():
            warnings.warn(
                f"{self.run_name}: resumed at step {state.global_step} and the store has no "
                f"base {base}; forgetting is not measured (probe the run from its start)",
                stacklevel=2,
            )
            return
        self.base = base
        if state.global_step == 0:
            self._evaluate(kw["model"], kw, base)
            self._probed.add(0)

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.every_n_steps is None:
            self.probe(state, kw["model"], kw)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.every_n_steps is not None and state.global_step % self.every_n_steps == 0:
            self.probe(state, kw["model"], kw)

    # -- work ---------------------------------------------------------------------------------

    def probe(self, state: Any, model: Any, kw: dict[str, Any]) -> dict[str, float]:
        """Evaluate the model at `state.global_step`, compare it with the base and log."""
        step = int(state.global_step)
        if not state.is_world_process_zero or self.base is None or step in self._probed:
            return {}
        name = checkpoint_model_name(self.run_name, step)
        self._evaluate(model, kw, name)
        self._probed.add(step)
        metrics = self.metrics(name)
        self.history.append((step, metrics))
        self._log(state, metrics)
        return metrics

    def metrics(self, name: str) -> dict[str, float]:
        """F_true, BT_true and accuracy after, per category and Total, of `name` vs the base."""
        from forgetmap.analysis.compare import compare

        if self.base is None:
            raise ForgetmapError(f"{self.run_name}: no base evaluated yet (on_train_begin)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one line per checkpoint, not compare's notes
            pair = compare(self._store(), [(self.base, name)], bootstrap=self.bootstrap).pairs[0]
        rows = {**pair.categories, **({"Total": pair.total} if pair.total else {})}
        out: dict[str, float] = {}
        for row, summary in rows.items():
            for key, attr in LOGGED:
                value = getattr(summary, attr).mean
                if value is not None:
                    out[f"{self.prefix}/{row}/{key}"] = float(value)
        return out

    def _evaluate(self, model: Any, kw: dict[str, Any], name: str) -> None:
        from forgetmap.engine.backends.hf import HFBackend, evaluating
        from forgetmap.engine.runner import evaluate
        from forgetmap.suite.protocol_loader import load_protocol

        tok = self.tokenizer or kw.get("processing_class") or kw.get("tokenizer")
        tok = getattr(tok, "tokenizer", tok)  # a processor wraps its tokenizer
        if tok is None:
            raise ForgetmapError(
                "ForgettingCallback needs the tokenizer: pass tokenizer= or give it to the trainer"
            )
        backend = HFBackend.from_loaded(model, tok, name, batch_size=self.batch_size)
        with evaluating(model):
            evaluate(
                name, backend=backend, tasks=self.probes.tasks, seeds=self.seeds,
                results=self.results, elicitation=self.elicitation, data_dir=self.data_dir,
                protocol=self.probes.protocol(load_protocol(self.protocol)), model_name=name,
                progress=self.progress, **self.eval_kw,
            )  # fmt: skip

    def _log(self, state: Any, metrics: dict[str, float]) -> None:
        if self.trainer is not None:
            self.trainer.log(dict(metrics))
            return
        state.log_history.append({**metrics, "step": state.global_step})
        if not self._warned_no_trainer:
            self._warned_no_trainer = True
            warnings.warn(
                "ForgettingCallback has no trainer (use callback.attach(trainer)): forgetting "
                "metrics go to the results store and the log history, not to report_to loggers",
                stacklevel=2,
            )

    def _store(self) -> Any:
        from forgetmap.records.store import ResultsStore

        return ResultsStore(self.results)
