"""The bare endpoint the ingest rate is compared with: Flask parses the same JSON (orjson) and answers 201."""

import orjson
from flask import Flask, request

app = Flask(__name__)


@app.post("/reports")
def bare():
    document = orjson.loads(request.get_data())
    return {"report_number": document["report_number"]}, 201
