"""What an evaluation environment holds: per benchmark family, its requirement lists (carried as package data,
with their source) and the modules its tasks import, which ``ladder env check`` tries.

Two lists per spec: ``upstream`` (the benchmark's own pins, for the Python it was made for) and ``lock`` (ours,
for the Python codeladder runs on, binary wheels only). ``auto`` picks the one made for the interpreter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from codeladder.envs.datafiles import NLTK_STOPWORDS, DataFiles
from codeladder.errors import LadderError

DATA = Path(str(resources.files("codeladder.envs") / "data"))


@dataclass(frozen=True)
class RequirementList:
    kind: str  # "upstream" or "lock"
    file: str  # under envs/data/
    python: str  # "3.10": the interpreter version it was made for
    source: str  # where it comes from

    @property
    def path(self) -> Path:
        return DATA / self.file


@dataclass(frozen=True)
class EnvSpec:
    name: str
    summary: str
    lists: tuple[RequirementList, ...]
    no_binary: tuple[str, ...] = ()  # pure-Python projects published only as sdists (built without compiling)
    modules: tuple[str, ...] = ()  # top-level modules the tasks import (``env check`` imports each)
    limits: tuple[str, ...] = ()  # what no registry package provides, said by ``env check``
    data_files: tuple[DataFiles, ...] = ()  # corpora the tasks read, from a registry, pinned by sha256

    def requirement_list(self, choice: str, python_version: str) -> RequirementList | None:
        """The list ``choice`` names (``auto``: the one made for ``python_version``); None for a file path."""
        if choice == "auto":
            for item in self.lists:
                if item.python == python_version:
                    return item
            made_for = ", ".join(f"{i.kind} for Python {i.python}" for i in self.lists)
            raise LadderError(f"no requirement list of {self.name} is made for Python {python_version} ({made_for}); "
                              "choose one with --requirements upstream|lock|FILE or another --python")
        for item in self.lists:
            if item.kind == choice:
                return item
        return None


BIGCODEBENCH = EnvSpec(
    name="bigcodebench",
    summary="BigCodeBench's test-time libraries (pandas, numpy, matplotlib, sklearn, tensorflow, ...)",
    lists=(
        RequirementList("lock", "bigcodebench/bigcodebench-py311.lock", "3.11",
                        "codeladder's lock of the upstream list for CPython 3.11, binary wheels (see its header)"),
        RequirementList("upstream", "bigcodebench/requirements-eval.txt", "3.10",
                        "bigcode-project/bigcodebench Requirements/requirements-eval.txt at "
                        "158327f1893f5bfd5cdfc233344771ccfa7887e9"),
    ),
    no_binary=("flask-mail", "wikipedia", "wordninja"),
    modules=("pandas", "numpy", "matplotlib", "sklearn", "scipy", "seaborn", "requests", "nltk", "pytz", "bs4",
             "dateutil", "cv2", "statsmodels", "django", "PIL", "rsa", "regex", "flask", "psutil", "cryptography",
             "flask_mail", "folium", "tensorflow", "xlwt", "wordcloud", "geopy", "sympy", "mechanize", "docx",
             "openpyxl", "texttable", "textblob", "xmltodict", "faker", "lxml", "wikipedia", "flask_restful",
             "flask_login", "flask_wtf", "wtforms", "werkzeug", "holidays", "skimage", "shapely", "geopandas",
             "librosa", "soundfile", "mpl_toolkits", "python_http_client", "sendgrid", "blake3", "natsort", "keras",
             "prettytable", "Crypto", "pyquery", "gensim", "yaml", "Levenshtein", "wordninja", "pytesseract",
             "chardet"),
    data_files=(NLTK_STOPWORDS,),
    limits=("NLTK data other than stopwords (punkt, words, taggers, wordnet): no registry package ships it",
            "the tesseract binary (pytesseract): a system package, not a Python one"),
)

SPECS = {spec.name: spec for spec in (BIGCODEBENCH,)}


def get_spec(name: str) -> EnvSpec:
    if name not in SPECS:
        raise LadderError(f"environment {name!r}: codeladder knows {', '.join(SPECS)}")
    return SPECS[name]


_DOTTED_PIN = re.compile(r"==([0-9][0-9.]*)\.$")


def normalized_lines(path: Path) -> list[str]:
    """The requirement lines of a list, each project once; a pin ending in a dot (upstream's ``selenium==4.15.``,
    not a valid version) becomes a prefix match (``==4.15.*``)."""
    seen, lines = set(), []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = _DOTTED_PIN.sub(r"==\1.*", line)
        project = re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-")
        if project not in seen:
            seen.add(project)
            lines.append(line)
    return lines
