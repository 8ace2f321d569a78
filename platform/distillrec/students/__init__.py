"""Sequential recommenders (students) behind one interface, and the popularity baseline."""

from distillrec.students.base import SequentialRecommender
from distillrec.students.registry import STUDENTS, build_student, student_class

__all__ = ["STUDENTS", "SequentialRecommender", "build_student", "student_class"]
