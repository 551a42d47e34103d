"""JSON answers over 1 KiB are gzipped for clients that accept it; downloads, token answers and
small answers never are. (A real gunicorn in production mode answers the same:
tests/exports/test_security_production.py::test_gunicorn_gzips_json_answers.)"""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory
from rest_framework.test import APIClient

from exports import storage
from exportsite.middleware import JsonGZipMiddleware
from tests.conftest import uses_s3

pytestmark = pytest.mark.django_db


def test_a_large_json_answer_is_gzipped_when_the_client_accepts_it(reporter_client):
    plain = reporter_client.get("/export-types")
    assert plain.status_code == 200 and "Content-Encoding" not in plain
    assert len(plain.content) > 1024  # the 15 types' descriptions

    packed = reporter_client.get("/export-types", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert packed.status_code == 200
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    assert json.loads(gzip.decompress(packed.content)) == plain.json()
    assert len(packed.content) < len(plain.content) / 3


def test_a_small_json_answer_is_sent_as_it_is(reporter_client):
    answer = reporter_client.get("/campaigns/999999/exports", HTTP_ACCEPT_ENCODING="gzip")
    assert answer.status_code == 404 and len(answer.content) < 1024
    assert "Content-Encoding" not in answer and answer.json()


@pytest.mark.skipif(uses_s3(), reason="S3 links go to the object store, not through Django")
def test_local_downloads_are_never_compressed_again():
    key = "entries/1/test/big.csv"
    body = b"id,email\n" + b"".join(b"%d,fan%d@example.com\n" % (n, n) for n in range(5000))
    storages["exports"].save(key, ContentFile(body))
    link = storage.download_url("exports", key, filename="big.csv", ttl_seconds=60)
    answer = APIClient().get(link, HTTP_ACCEPT_ENCODING="gzip")
    assert answer.status_code == 200 and "Content-Encoding" not in answer
    assert answer.getvalue() == body


@pytest.mark.parametrize(
    ("path", "response", "gzipped"),
    [
        ("/campaigns/1/exports", JsonResponse({"items": ["x" * 2000]}), True),
        ("/campaigns/1/exports", HttpResponse("<p>" + "x" * 2000, content_type="text/html"), False),
        ("/auth/token", JsonResponse({"access": "x" * 2000, "refresh": "y" * 2000}), False),
        ("/auth/token/refresh", JsonResponse({"access": "x" * 2000}), False),
        ("/api/schema/", HttpResponse("{" + '"a": 1,' * 400 + "}", content_type="application/vnd.oai+json"), True),
    ],
    ids=["json", "html", "token", "refresh", "+json"],
)
def test_only_json_answers_outside_the_token_endpoints_are_compressed(path, response, gzipped):
    request = RequestFactory().get(path, HTTP_ACCEPT_ENCODING="gzip")
    answer = JsonGZipMiddleware(lambda request: response).process_response(request, response)
    assert (answer.get("Content-Encoding") == "gzip") is gzipped
