"""Which errors are worth another attempt: the classification behind FAILED's failure kind."""

import botocore.exceptions
import pytest
from django.db import DataError, OperationalError

from exports.engine.failures import is_transient
from exports.errors import ExportFailure


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "UploadPart"
    )


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3"),
        _client_error("InternalError", 500),
        _client_error("SlowDown", 503),
        _client_error("NoSuchUpload", 404),
        _client_error("NoSuchBucket", 404),
        ConnectionResetError(),
    ],
    ids=lambda e: type(e).__name__ + getattr(e, "response", {}).get("Error", {}).get("Code", ""),
)
def test_infrastructure_errors_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        DataError("division by zero"),
        _client_error("AccessDenied", 403),
        _client_error("InvalidArgument", 400),
        ExportFailure("no markets", "Campaign 1 has no markets."),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__ + getattr(e, "response", {}).get("Error", {}).get("Code", ""),
)
def test_data_errors_and_bugs_are_not(error):
    assert not is_transient(error)
