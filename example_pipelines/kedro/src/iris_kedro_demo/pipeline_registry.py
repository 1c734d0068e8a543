"""Pipelines: ingest (sklearn's iris to CSV), training, evaluation; default runs all three."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from iris_kedro_demo import nodes


def register_pipelines() -> dict[str, Pipeline]:
    ingest = pipeline([node(nodes.fetch_iris, None, "iris_raw", name="fetch_iris")])
    training = pipeline([
        node(nodes.clean, "iris_raw", "iris_clean", name="clean"),
        node(nodes.split, ["iris_clean", "params:split"], ["train_set", "test_set"],
             name="split"),
        node(nodes.train, ["train_set", "params:model"], "classifier", name="train"),
    ])
    evaluation = pipeline([node(nodes.evaluate, ["classifier", "test_set"], "metrics",
                                name="evaluate")])
    return {"ingest": ingest, "training": training, "evaluation": evaluation,
            "__default__": ingest + training + evaluation}
