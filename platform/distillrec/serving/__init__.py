"""Serving: the MLflow champion behind a Ray Serve HTTP API (see docs/serving.md).

Modules: ``schemas`` (request/response bodies), ``catalogue`` (ids <-> titles, history checks),
``http_errors`` (one JSON shape for every 4xx, body size limit), ``model_loading`` (alias ->
version -> loaded student), ``switching`` (a new version swapped in without dropping requests),
``settings`` (entry-point arguments and every serving default), ``deployment`` (the Serve
deployment), ``bench`` (the HTTP load generator behind ``jobs/bench_serve.py``).
"""
