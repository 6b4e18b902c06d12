"""Train an ElasticNet on scikit-learn's bundled diabetes data and log it to MLflow: parameters, metrics, the
metrics file and the model's coefficients as artifacts, and the commit it came from as tags.

Reads the tracking server, credentials and CA from the environment (MLFLOW_TRACKING_URI,
MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_SERVER_CERT_PATH), as a platform
runner's job or a dev environment provides them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import mlflow
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

REQUIRED = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--l1-ratio", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path("metrics.json"))
    args = parser.parse_args()
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        print(f"missing environment: {', '.join(missing)} (a platform runner's job has them)", file=sys.stderr)
        return 2

    x, y = load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=42)
    model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42).fit(x_train, y_train)
    predicted = model.predict(x_test)
    metrics = {
        "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
        "r2": float(r2_score(y_test, predicted)),
    }
    args.out.write_text(json.dumps(metrics, indent=2) + "\n")
    coefficients = Path("coefficients.json")
    coefficients.write_text(json.dumps(dict(zip(load_diabetes().feature_names, model.coef_.tolist())), indent=2) + "\n")

    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "mlflow-pipeline-example"))
    tags = {k.lower(): os.environ[k] for k in ("CI_COMMIT_SHA", "CI_PIPELINE_URL", "CI_JOB_ID") if os.environ.get(k)}
    with mlflow.start_run(tags=tags) as run:
        mlflow.log_params({"alpha": args.alpha, "l1_ratio": args.l1_ratio, "model": "ElasticNet"})
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(args.out))
        mlflow.log_artifact(str(coefficients))
    print(f"run {run.info.run_id}: rmse {metrics['rmse']:.2f}, r2 {metrics['r2']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
