"""The fault suite (issue 9) also uses helpers of the main test folder (e.g. the instant backend)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
