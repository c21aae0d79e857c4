"""`load_protocol`: any protocol reference -> a `Protocol`.

A reference is a built-in name or a YAML file (declared protocols, `forgetmap.suite.protocol`),
`study` (built at run time from a checkout of the study's code,
`forgetmap.suite.study_protocol`), a loaded Protocol, or None (`forgetmap`). This module sits
above both kinds, so neither imports the other (tests/test_code_shape.py: no import cycles).
"""

from __future__ import annotations

from forgetmap.suite.protocol import DEFAULT_PROTOCOL, STUDY_PROTOCOL, Protocol, load_declared
from forgetmap.suite.study_protocol import load_study_protocol


def load_protocol(ref: str | Protocol | None = None) -> Protocol:
    """The protocol `ref` (see the module docstring); files are re-read when they change."""
    if isinstance(ref, Protocol):
        return ref
    if (ref or DEFAULT_PROTOCOL) == STUDY_PROTOCOL:  # the study's checkout (FORGETMAP_STUDY_REPO)
        return load_study_protocol()
    return load_declared(ref)
