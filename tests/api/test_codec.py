"""POST /codec/encode and /codec/decode: Temporal's remote codec protocol, behind the codec scope, CORS for the UI."""

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from runtime.codec import ENCODING, KEY_ID, EncryptionCodec
from runtime.settings import CodecKey, Settings

from .conftest import COMMERCE, SUPPORT, assert_problem

UI = "http://127.0.0.1:8233"
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name":"Ana Lima"}')


def body(*payloads: Payload) -> dict[str, Any]:
    return json.loads(json_format.MessageToJson(Payloads(payloads=payloads)))


def payloads_of(response: httpx.Response) -> list[Payload]:
    return list(json_format.Parse(response.text, Payloads()).payloads)


@pytest.fixture
def trusting(settings: Settings) -> Settings:
    return settings.model_copy(update={"codec_dev_trust_ui_origin": True, "ui_origin": UI})


async def test_no_key_is_401(http: httpx.AsyncClient) -> None:
    r = await http.post("/codec/decode", json=body(PLAIN))
    assert_problem(r, 401, "unauthorized")


async def test_a_key_without_the_codec_scope_is_403(http: httpx.AsyncClient) -> None:
    r = await http.post("/codec/decode", json=body(PLAIN), headers=COMMERCE)
    assert_problem(r, 403, "forbidden")


async def test_encode_then_decode_round_trips_and_hides_the_data(http: httpx.AsyncClient) -> None:
    encoded = await http.post("/codec/encode", json=body(PLAIN), headers=SUPPORT)
    assert encoded.status_code == 200, encoded.text
    assert encoded.headers["content-type"] == "application/json"
    [sealed] = payloads_of(encoded)
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"dev-1"
    assert b"Ana Lima" not in sealed.SerializeToString()
    decoded = await http.post(
        "/codec/decode", content=encoded.content, headers={**SUPPORT, "X-Namespace": "default"}
    )
    assert decoded.status_code == 200, decoded.text
    assert payloads_of(decoded) == [PLAIN]


async def test_decode_reads_what_the_workers_codec_wrote(http: httpx.AsyncClient, settings: Settings) -> None:
    [sealed] = await EncryptionCodec(settings.codec_keys).encode([PLAIN])
    r = await http.post("/codec/decode", json=body(sealed, PLAIN), headers=SUPPORT)
    assert payloads_of(r) == [PLAIN, PLAIN]  # a payload that is not ours passes through


async def test_the_wire_format_is_protobuf_json_with_base64(http: httpx.AsyncClient) -> None:
    wire = {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(b'"x"').decode(),
            }
        ]
    }
    encoded = await http.post("/codec/encode", json=wire, headers=SUPPORT)
    decoded = await http.post("/codec/decode", content=encoded.content, headers=SUPPORT)
    assert decoded.json() == wire


@pytest.mark.parametrize("content", [b"not json", b'{"payloads": 3}', b'{"nope": []}'])
async def test_a_body_that_is_not_payloads_is_400(http: httpx.AsyncClient, content: bytes) -> None:
    r = await http.post(
        "/codec/decode", content=content, headers={**SUPPORT, "Content-Type": "application/json"}
    )
    assert_problem(r, 400, "invalid-payloads")


async def test_a_payload_under_an_unknown_key_is_400_naming_the_key(http: httpx.AsyncClient) -> None:
    other = CodecKey(id="old-0", key=base64.b64encode(bytes(range(32))).decode())
    [sealed] = await EncryptionCodec([other]).encode([PLAIN])
    r = await http.post("/codec/decode", json=body(sealed), headers=SUPPORT)
    detail = assert_problem(r, 400, "codec-error")["detail"]
    assert "old-0" in detail and other.key.get_secret_value() not in detail


async def test_preflight_from_the_ui_origin_is_granted(http: httpx.AsyncClient) -> None:
    for origin in (UI, "http://localhost:8233"):
        r = await http.options(
            "/codec/decode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
        )
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == origin
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "x-namespace"} <= allowed
        assert "POST" in r.headers["access-control-allow-methods"]


async def test_a_foreign_origin_gets_no_cors_grant(http: httpx.AsyncClient) -> None:
    evil = "https://evil.example"
    pre = await http.options(
        "/codec/decode", headers={"Origin": evil, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in pre.headers
    r = await http.post("/codec/decode", json=body(PLAIN), headers={**SUPPORT, "Origin": evil})
    assert "access-control-allow-origin" not in r.headers


async def test_cors_is_granted_on_answers_to_the_ui_errors_included(http: httpx.AsyncClient) -> None:
    ok = await http.post("/codec/decode", json=body(PLAIN), headers={**SUPPORT, "Origin": UI})
    denied = await http.post("/codec/decode", json=body(PLAIN), headers={"Origin": UI})
    assert ok.headers["access-control-allow-origin"] == UI
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == UI


async def test_the_rest_of_the_api_grants_no_cors(http: httpx.AsyncClient) -> None:
    r = await http.options("/v1/orders", headers={"Origin": UI, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


async def test_dev_trust_lets_only_the_ui_origin_in_without_a_key(
    make_http: Callable[..., httpx.AsyncClient], trusting: Settings, no_temporal: Any
) -> None:
    async with make_http(no_temporal, trusting) as http:
        from_ui = await http.post("/codec/decode", json=body(PLAIN), headers={"Origin": UI})
        from_elsewhere = await http.post(
            "/codec/decode", json=body(PLAIN), headers={"Origin": "https://evil.example"}
        )
        no_origin = await http.post("/codec/decode", json=body(PLAIN))
        wrong_key = await http.post("/codec/decode", json=body(PLAIN), headers={"Origin": UI, **COMMERCE})
    assert from_ui.status_code == 200 and payloads_of(from_ui) == [PLAIN]
    assert_problem(from_elsewhere, 401, "unauthorized")
    assert_problem(no_origin, 401, "unauthorized")
    assert_problem(wrong_key, 403, "forbidden")  # a key that is sent is judged, origin or not


def test_dev_trust_is_off_by_default_and_loud_when_on(
    trusting: Settings, no_temporal: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.app import create_app

    assert Settings.model_fields["codec_dev_trust_ui_origin"].default is False
    create_app(trusting, client=no_temporal)
    captured = capsys.readouterr()
    assert "codec.dev_trust_ui_origin_enabled" in captured.out + captured.err
