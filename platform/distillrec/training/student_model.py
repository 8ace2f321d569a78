"""The MLflow *model from code* of every packaged student (see ``training.packaging``).

``log_student_model`` passes this file's path as ``python_model``: MLflow copies it into the model
folder and runs it on ``mlflow.pyfunc.load_model``, instead of unpickling a ``python_model.pkl``.
It only names the class; weights and config are read from the model's ``artifacts/student/``.
"""

from mlflow.models import set_model

from distillrec.training.packaging import StudentPyfunc

set_model(StudentPyfunc())
