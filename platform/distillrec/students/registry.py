"""Student names -> classes. Adding a student is one new file plus one line here."""

from __future__ import annotations

from typing import Any

from distillrec.students.base import SequentialRecommender
from distillrec.students.caser import Caser
from distillrec.students.gru4rec import GRU4Rec
from distillrec.students.popularity import Popularity
from distillrec.students.sasrec import SASRec

STUDENTS: dict[str, type[SequentialRecommender]] = {
    "gru4rec": GRU4Rec,
    "caser": Caser,
    "sasrec": SASRec,
    "popularity": Popularity,
}


def student_class(name: str) -> type[SequentialRecommender]:
    """Look a student up by name; an unknown name lists the valid ones."""
    try:
        return STUDENTS[name]
    except KeyError:
        raise ValueError(
            f"unknown student {name!r}; valid names: {', '.join(sorted(STUDENTS))}"
        ) from None


def build_student(name: str, **kwargs: Any) -> SequentialRecommender:
    """Construct a student from its registry name and constructor keyword arguments."""
    return student_class(name)(**kwargs)
