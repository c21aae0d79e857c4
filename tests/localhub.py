"""The Hugging Face Hub served from local copies of the same files, for `data pull` tests.

The Hub is unreachable from these machines. `LocalHub` replaces the network calls `data pull`
makes -- `datasets.load_dataset(id, config, split=..., revision=...)`,
`huggingface_hub.HfApi.dataset_info` and `urllib.request.urlopen` for files outside the Hub --
with answers built from the official files in the shared data folder, loaded through `datasets`'
own builders (Arrow folders with `load_from_disk`, CSV/JSON Lines with the `csv`/`json` builders
the Hub uses for file-based datasets). Everything after those calls (writers, manifest, resume,
check, loaders) is the real code; the network itself is the only thing not exercised.

Where a Hub dataset's row schema differs from the official file (TruthfulQA's
{choices, labels} lists; BBH's bare example rows), the rows are given the Hub's schema, as the
Hub's own conversion of those files does.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

LOCAL_SHA = "0123456789abcdef0123456789abcdef01234567"  # the "resolved commit" of local copies


class GatedRepoError(Exception):
    """Stands for huggingface_hub.errors.GatedRepoError (same name: classified by name)."""


@dataclass
class LocalHub:
    """`routes[(id, config, split)]` -> (local path, format); `urls[url]` -> local file."""

    root: Path
    routes: dict[tuple[str, str | None, str], tuple[str, str]] = field(default_factory=dict)
    urls: dict[str, Path] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    offline: bool = False
    calls: list[tuple[str, str | None, str, str | None]] = field(default_factory=list)
    fail_after: int | None = None  # raise KeyboardInterrupt on that many load_dataset calls

    @classmethod
    def from_registry(cls, root: Path) -> LocalHub:
        """Every Hub split and repository file the registry declares whose official copy is
        in `root` (a split that is there only in another layout, e.g. ARC test as OLMES
        request files, is not served: the Hub does not have that layout)."""
        from forgetmap.suite.datafiles import HubSource, UrlSource, registry_files

        hub = cls(root)
        for f in registry_files(all_splits=True):
            if not (root / f.path).exists():
                continue
            if isinstance(f.source, HubSource):
                hub.routes[(f.source.id, f.source.config, f.source.split)] = (f.path, f.format)
            elif isinstance(f.source, UrlSource):
                hub.urls[f.source.url] = root / f.path
        return hub

    def install(self, monkeypatch: Any) -> LocalHub:
        real_urlopen = urllib.request.urlopen
        monkeypatch.setattr(datasets, "load_dataset", self._make_loader(datasets.load_dataset))
        import huggingface_hub

        def dataset_info(api: Any, repo_id: str, revision: str | None = None, **kw: Any) -> Any:
            return self._dataset_info(repo_id, revision)

        monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)

        def urlopen(url: str, *a: Any, **kw: Any) -> Any:
            if self.offline:
                raise urllib.error.URLError("[Errno -2] Name or service not known")
            if url not in self.urls:
                raise urllib.error.HTTPError(url, 404, "Not Found", None, None)  # type: ignore[arg-type]
            return real_urlopen(self.urls[url].as_uri(), *a, **kw)

        monkeypatch.setattr(urllib.request, "urlopen", urlopen)
        return self

    def _dataset_info(self, repo_id: str, revision: str | None) -> Any:
        if self.offline:
            raise ConnectionError("[Errno -2] Name or service not known")
        if not any(r[0] == repo_id for r in self.routes):
            raise FileNotFoundError(f"RepositoryNotFoundError: {repo_id}")
        return type("Info", (), {"sha": LOCAL_SHA, "gated": repo_id in self.gated})()

    def _make_loader(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def load_dataset(path: str, name: str | None = None, split: str | None = None,
                         revision: str | None = None, **kw: Any) -> Any:  # fmt: skip
            self.calls.append((path, name, split, revision))
            if self.fail_after is not None and len(self.calls) > self.fail_after:
                raise KeyboardInterrupt("interrupted by the test")
            if self.offline:
                raise ConnectionError(
                    f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)"
                )
            if path in self.gated:
                raise GatedRepoError(f"Access to dataset {path} is restricted. 401 Client Error")
            if (path, name, split) not in self.routes:
                raise FileNotFoundError(f"DatasetNotFoundError: {path}/{name}:{split}")
            rel, fmt = self.routes[(path, name, split)]
            return serve(self.root / rel, fmt, real)

        return load_dataset


def serve(path: Path, fmt: str, real_load: Callable[..., Any]) -> Any:
    """The Hub's Dataset for a local official file of format `fmt`."""
    if fmt == "arrow":
        return datasets.load_from_disk(str(path))
    if fmt in ("csv", "jsonl"):
        builder = "csv" if fmt == "csv" else "json"
        return real_load(builder, data_files=str(path), split="train")
    if fmt == "bbh_json":
        return datasets.Dataset.from_list(json.loads(path.read_text())["examples"])
    if fmt == "json":  # TruthfulQA: the Hub gives each {text: label} dict as {choices, labels}
        rows = json.loads(path.read_text())
        return datasets.Dataset.from_list(
            [
                {
                    "question": r["question"],
                    **{
                        k: {"choices": list(r[k]), "labels": list(r[k].values())}
                        for k in ("mc1_targets", "mc2_targets")
                    },
                }
                for r in rows
            ]
        )
    raise AssertionError(f"no Hub schema for local format {fmt}")
