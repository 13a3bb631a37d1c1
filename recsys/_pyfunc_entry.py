"""Model-from-code entry point logged with every trained model."""

from mlflow.models import set_model

from recsys.pyfunc import Item2VecPyfunc

set_model(Item2VecPyfunc())
