"""The Creators API client against the fake Creators API on loopback.

Nothing of ours is mocked and nothing reaches the internet: requests go over real
sockets to ``FakeCreatorsApi``, and what was sent is asserted at the fake's side.
Time (token expiry, backoff, pacing) runs on an injected clock unless the test
measures real spacing.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tracker.amazon import (
    MAP_REASON,
    RESOURCES,
    AmazonItem,
    AmazonSettings,
    CreatorsClient,
    asin_from_url,
    is_amazon_url,
    marketplace_of,
    parse_amazon_settings,
)
from tracker.errors import ConfigError
from tracker.models import Availability, PageStatus
from tracker.shops import FakeCreatorsApi, FakeItem
from tracker.shops.amazon_api import DEFAULT_CREDENTIAL_ID, DEFAULT_CREDENTIAL_SECRET

# httpx builds an SSL context per client (~30 ms); the tests share one through a transport
SSL_CONTEXT = ssl.create_default_context()

US = "www.amazon.com"
TAG = "guide-20"
SECRET = DEFAULT_CREDENTIAL_SECRET


def asins(n: int, prefix: str = "B0TEST") -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(n)]


def catalogue(codes: Sequence[str]) -> list[FakeItem]:
    return [FakeItem(code, f"Amplifier {i}", Decimal("100.00") + i) for i, code in enumerate(codes)]


class Mono:
    """A monotonic clock that moves only when told to or when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@pytest.fixture
def api() -> Iterator[FakeCreatorsApi]:
    with FakeCreatorsApi(catalogue(asins(30)), partner_tags={US: TAG}) as fake:
        yield fake


def make_settings(api: FakeCreatorsApi, version: str = "2.1", **kw: Any) -> AmazonSettings:
    values: dict[str, Any] = {
        "credential_id": DEFAULT_CREDENTIAL_ID,
        "credential_secret": SECRET,
        "version": version,
        "partner_tags": {US: TAG},
        "rate": 1000.0,
        "backoff": 0.01,
        "retries": 3,
        "timeout": 5.0,
        "api_url": api.base_url,
        "token_url": api.token_url(version),
        "credential_secret_env": "TRACKER_AMAZON_SECRET",
    } | kw
    return AmazonSettings(**values)


def get(
    settings: AmazonSettings,
    *calls: Sequence[str],
    marketplace: str = US,
    mono: Mono | None = None,
    between: Any = None,
) -> list[dict[str, AmazonItem]]:
    """Run ``get_items`` once per call through one client; ``between(i)`` runs before call i."""

    async def go() -> list[dict[str, AmazonItem]]:
        kw: dict[str, Any] = {"clock": mono, "sleep": mono.sleep} if mono else {}
        kw["transport"] = httpx.AsyncHTTPTransport(verify=SSL_CONTEXT)
        out = []
        async with CreatorsClient(settings=settings, **kw) as client:
            for i, call in enumerate(calls):
                if between is not None:
                    between(i)
                out.append(await client.get_items(call, marketplace=marketplace))
        return out

    return asyncio.run(go())


def statuses(api: FakeCreatorsApi) -> list[int]:
    return [r.status for r in api.get_items_requests]


# ------------------------------------------------------------------------------ batching


def test_25_asins_go_in_3_requests_of_at_most_10(api: FakeCreatorsApi) -> None:
    wanted = asins(25)
    [items] = get(make_settings(api), [*wanted, *wanted[:5]], mono=Mono())  # duplicates too
    requests = api.get_items_requests
    assert len(requests) == 3
    sizes = [len(r.json["itemIds"]) for r in requests]
    assert sizes == [10, 10, 5]
    sent = [a for r in requests for a in r.json["itemIds"]]
    assert sorted(sent) == sorted(wanted)  # each ASIN exactly once
    assert set(items) == set(wanted)
    assert all(
        item.ok and item.offer and item.offer.status is PageStatus.ok for item in items.values()
    )
    assert items[wanted[7]].offer is not None
    assert items[wanted[7]].offer.price == Decimal("107.00")
    assert len(api.token_requests) == 1


def test_only_the_needed_resources_are_asked_for(api: FakeCreatorsApi) -> None:
    get(make_settings(api), asins(2), mono=Mono())
    [request] = api.get_items_requests
    assert set(request.json) == {"itemIds", "partnerTag", "resources"}
    assert request.json["partnerTag"] == TAG
    assert sorted(request.json["resources"]) == sorted(RESOURCES)
    assert set(RESOURCES) == {
        "offersV2.listings.price",
        "offersV2.listings.availability",
        "offersV2.listings.isBuyBoxWinner",
        "offersV2.listings.merchantInfo",
        "offersV2.listings.condition",
        "itemInfo.title",
    }


def test_results_are_keyed_by_the_asins_as_given(api: FakeCreatorsApi) -> None:
    code = asins(1)[0]
    [items] = get(make_settings(api), [code.lower(), "not-an-asin", code], mono=Mono())
    assert set(items) == {code.lower(), "not-an-asin", code}
    assert items[code.lower()] is items[code] and items[code].asin == code
    assert items["not-an-asin"].failure == "amazon_item_error"
    assert "not an ASIN" in (items["not-an-asin"].error or "")
    [request] = api.get_items_requests
    assert request.json["itemIds"] == [code]  # the bad one was never sent
    api.reset_log()
    assert get(make_settings(api), [], mono=Mono()) == [{}]
    assert api.requests == []  # nothing to ask: not even a token


# ------------------------------------------------------------------------------ tokens


def test_one_token_serves_many_calls(api: FakeCreatorsApi) -> None:
    results = get(make_settings(api), asins(3), asins(3)[1:], asins(12), mono=Mono())
    assert all(item.ok for result in results for item in result.values())
    assert len(api.token_requests) == 1
    assert len(api.get_items_requests) == 4


@pytest.mark.parametrize("send_expires_in", [True, False])
def test_token_is_refreshed_30s_before_it_expires(send_expires_in: bool) -> None:
    # with expires_in missing the client assumes 3600 s, like Amazon's SDK
    with FakeCreatorsApi(catalogue(asins(2)), send_expires_in=send_expires_in) as api:
        mono = Mono()
        steps = {1: 3600 - 30 - 2, 2: 3.0}  # just before the refresh point, then past it

        def advance(i: int) -> None:
            mono.now += steps.get(i, 0.0)

        results = get(make_settings(api), asins(2), asins(2), asins(2), mono=mono, between=advance)
        assert all(item.ok for result in results for item in result.values())
        tokens = [r.headers["authorization"] for r in api.get_items_requests]
        assert len(api.token_requests) == 2
        assert tokens[0] == tokens[1] != tokens[2]


def test_401_token_expired_refreshes_once_and_retries(api: FakeCreatorsApi) -> None:
    def expire(i: int) -> None:
        if i == 1:
            api.expire_tokens()

    results = get(make_settings(api), asins(2), asins(2), mono=Mono(), between=expire)
    assert all(item.ok for result in results for item in result.values())
    assert statuses(api) == [200, 401, 200]
    assert api.get_items_requests[1].error == "UnauthorizedException"
    assert len(api.token_requests) == 2
    assert results[1][asins(1)[0]].attempts == 2


def test_a_401_after_refresh_fails_the_run_with_what_to_fix(api: FakeCreatorsApi) -> None:
    api.deny("InvalidIssuer", status=401)
    results = get(make_settings(api), asins(2), asins(2), mono=Mono())
    for result in results:
        for item in result.values():
            assert item.failure == "amazon_auth"
            assert "credential_version" in (item.error or "")
    assert statuses(api) == [401, 401]  # refreshed once, then stopped asking for the run
    assert len(api.token_requests) == 2


# ------------------------------------------------------------------------------ request shapes


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3", "3.1", "3.2", "3.3"])
def test_request_shapes_per_credential_version(api: FakeCreatorsApi, version: str) -> None:
    [items] = get(make_settings(api, version), asins(1), marketplace="amazon.com", mono=Mono())
    assert items[asins(1)[0]].ok
    [token] = api.token_requests
    [call] = api.get_items_requests
    if version.startswith("2."):
        assert token.path == "/oauth2/token"
        assert token.headers["content-type"] == "application/x-www-form-urlencoded"
        assert token.form == {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CREDENTIAL_ID,
            "client_secret": SECRET,
            "scope": "creatorsapi/default",
        }
        assert re.fullmatch(
            rf"Bearer \S+, Version {re.escape(version)}", call.headers["authorization"]
        )
    else:
        assert token.path == "/auth/o2/token"
        assert token.headers["content-type"] == "application/json"
        assert token.json == {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CREDENTIAL_ID,
            "client_secret": SECRET,
            "scope": "creatorsapi::default",
        }
        assert re.fullmatch(r"Bearer \S+", call.headers["authorization"])
    assert call.headers["x-marketplace"] == US
    assert call.headers["content-type"] == "application/json"
    assert call.path == "/catalog/v1/getItems"


def test_default_token_urls_follow_the_spec_table() -> None:
    def endpoint(version: str) -> str:
        return AmazonSettings("id", "s", version, {US: TAG}).token_endpoint

    assert endpoint("2.1") == "https://creatorsapi.auth.us-east-1.amazoncognito.com/oauth2/token"
    assert endpoint("2.2") == "https://creatorsapi.auth.eu-south-2.amazoncognito.com/oauth2/token"
    assert endpoint("2.3") == "https://creatorsapi.auth.us-west-2.amazoncognito.com/oauth2/token"
    assert endpoint("3.1") == "https://api.amazon.com/auth/o2/token"
    assert endpoint("3.2") == "https://api.amazon.co.uk/auth/o2/token"
    assert endpoint("3.3") == "https://api.amazon.co.jp/auth/o2/token"
    settings = AmazonSettings("id", "s", "2.1", {US: TAG})
    assert settings.get_items_url == "https://creatorsapi.amazon/catalog/v1/getItems"


def test_the_fake_is_strict_where_the_api_is(api: FakeCreatorsApi) -> None:
    """The fake catches a client that sends the wrong shapes."""
    form = {"grant_type": "client_credentials", "scope": "creatorsapi/default"}
    basic = base64.b64encode(f"{DEFAULT_CREDENTIAL_ID}:{SECRET}".encode()).decode()
    with httpx.Client(base_url=api.base_url) as http:
        # Cognito: Basic auth works, a wrong scope or secret does not
        ok = http.post("/oauth2/token", data=form, headers={"Authorization": f"Basic {basic}"})
        assert ok.status_code == 200 and ok.json()["expires_in"] == 3600
        token = ok.json()["access_token"]
        bad_scope = http.post(
            "/oauth2/token",
            data=form | {"scope": "creatorsapi::default"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert bad_scope.json() == {"error": "invalid_scope"}
        wrong = http.post(
            "/auth/o2/token",
            json=form | {"client_id": DEFAULT_CREDENTIAL_ID, "client_secret": "nope"},
        )
        assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})

        def call(body: dict[str, Any], auth: str = f"Bearer {token}, Version 2.1", **h: str) -> Any:
            headers = {"Authorization": auth, "x-marketplace": US} | h
            response = http.post("/catalog/v1/getItems", json=body, headers=headers)
            return response.status_code, response.json()

        good = {"itemIds": asins(1), "partnerTag": TAG, "resources": ["itemInfo.title"]}
        status, body = call(good)
        assert status == 200 and "offersV2" not in body["itemsResult"]["items"][0]
        assert call(good, auth=f"Bearer {token}")[1]["reason"] == "InvalidIssuer"
        assert call(good | {"resources": ["offers.listings.price"]})[1]["reason"] == (
            "FieldValidationFailed"
        )
        assert call(good | {"itemIds": asins(11)})[0] == 400
        assert call(good | {"partnerTag": "other-20"})[1]["reason"] == "InvalidPartnerTag"
        missing = http.post(
            "/catalog/v1/getItems",
            json=good,
            headers={"Authorization": f"Bearer {token}, Version 2.1"},
        )
        assert missing.status_code == 400 and "x-marketplace" in missing.json()["message"]


# ------------------------------------------------------------------------------ throttling


def test_429_is_retried_after_retry_after_seconds(api: FakeCreatorsApi) -> None:
    api.throttle(2, retry_after=5)
    mono = Mono()
    [items] = get(make_settings(api), asins(3), mono=mono)
    assert all(item.ok for item in items.values())
    assert statuses(api) == [429, 429, 200]
    assert api.get_items_requests[0].error == "ThrottleException"
    assert mono.slept.count(5.0) == 2  # the body's retryAfterSeconds, honoured each time
    assert items[asins(1)[0]].attempts == 3


def test_retry_after_header_and_backoff_without_a_hint(api: FakeCreatorsApi) -> None:
    api.throttle(1, retry_after=7, header=True)
    api.server_error(1, status=503)
    api.throttle(1)  # no hint: exponential backoff
    mono = Mono()
    [items] = get(make_settings(api, backoff=0.5), asins(1), mono=mono)
    assert items[asins(1)[0]].ok
    assert statuses(api) == [429, 503, 429, 200]
    assert mono.slept[0] == 7.0
    assert 0.25 <= mono.slept[1] <= 1.0  # backoff * 2**1 with jitter
    assert 0.5 <= mono.slept[2] <= 2.0


def test_throttled_on_every_try_fails_as_throttled(api: FakeCreatorsApi) -> None:
    api.throttle(10)
    [items] = get(make_settings(api, retries=2), asins(2), mono=Mono())
    assert {item.failure for item in items.values()} == {"amazon_throttled"}
    assert "after 3 requests" in (items[asins(1)[0]].error or "")
    assert statuses(api) == [429, 429, 429]


def test_a_retry_after_beyond_the_cap_stops_asking_for_the_run(api: FakeCreatorsApi) -> None:
    api.throttle(1, retry_after=120)
    results = get(make_settings(api, retry_after_cap=30), asins(2), asins(12)[2:], mono=Mono())
    for result in results:
        assert {item.failure for item in result.values()} == {"amazon_throttled"}
    assert "retry_after_cap" in (results[0][asins(1)[0]].error or "")
    assert statuses(api) == [429]  # one request, then nothing more this run


def test_rate_limit_spaces_requests_across_calls(api: FakeCreatorsApi) -> None:
    # real time: 20 requests per second is 50 ms between request starts. At the fake,
    # arrival times carry a few ms of scheduling jitter, so allow 20 ms per pair
    results = get(make_settings(api, rate=20.0), asins(25), asins(30)[25:])
    assert all(item.ok for result in results for item in result.values())
    times = [r.time for r in api.get_items_requests]
    assert len(times) == 4  # 10 + 10 + 5 in the first call, 5 in the second
    for (j, a), (k, b) in itertools.combinations(enumerate(times), 2):
        assert b - a >= (k - j) * 0.05 - 0.02, (j, k, times)
    assert times[-1] - times[0] >= 3 * 0.05 - 0.01
    # the control: without the limit the fake sees requests much closer together
    api.reset_log()
    get(make_settings(api, rate=1000.0), asins(25), asins(30)[25:])
    fast = [r.time for r in api.get_items_requests]
    assert fast[-1] - fast[0] < 3 * 0.05 - 0.01


def test_throttle_waits_hold_for_every_request_of_the_client(api: FakeCreatorsApi) -> None:
    api.throttle(1, retry_after=2)
    mono = Mono()
    get(make_settings(api, rate=1.0), asins(20), mono=mono)
    # 429, retry after 2 s, then the second batch 1 s later (the rate): nothing sooner
    assert statuses(api) == [429, 200, 200]
    assert sum(mono.slept) >= 3.0


# ------------------------------------------------------------------------------ item errors


def test_partial_errors_fail_only_those_items(api: FakeCreatorsApi) -> None:
    good = asins(3)
    api.set_item(good[1], accessible=False)
    unknown = ["B0NOTHERE1", "B0NOTHERE2"]
    [items] = get(make_settings(api), [good[0], good[1], *unknown, good[2]], mono=Mono())
    assert items[good[0]].ok and items[good[2]].ok
    assert items[good[1]].failure == "amazon_item_error"
    assert items[good[1]].code == "ItemNotAccessible"
    assert good[1] in (items[good[1]].error or "")
    for code in unknown:
        assert items[code].failure == "amazon_item_error"
        assert items[code].code == "InvalidParameterValue"
    assert len(api.get_items_requests) == 1


@pytest.mark.parametrize("error_type_key", ["type", "__type"])
def test_the_all_invalid_404_fails_only_its_batch(error_type_key: str) -> None:
    known = asins(10)
    unknown = ["B0GONE0001", "B0GONE0002"]
    with FakeCreatorsApi(catalogue(known), error_type_key=error_type_key) as api:
        [items] = get(make_settings(api), [*known, *unknown], mono=Mono())
        assert statuses(api) == [200, 404]
    assert all(items[code].ok for code in known)
    for code in unknown:
        assert items[code].failure == "amazon_item_error"
        assert items[code].code == "ResourceNotFoundException"
        assert items[code].offer is None


def test_auth_failures_name_what_to_fix(api: FakeCreatorsApi) -> None:
    # a partner tag Amazon does not know for the marketplace
    [items] = get(make_settings(api, partner_tags={US: "wrong-20"}), asins(2), mono=Mono())
    item = items[asins(1)[0]]
    assert item.failure == "amazon_auth" and "amazon.partner_tags" in (item.error or "")
    # no partner tag at all for the marketplace: no request is made
    api.reset_log()
    [items] = get(make_settings(api), asins(2), marketplace="www.amazon.de", mono=Mono())
    assert items[asins(1)[0]].failure == "amazon_auth"
    assert "www.amazon.de" in (items[asins(1)[0]].error or "")
    assert api.get_items_requests == []
    # an account not (or no longer) eligible
    api.deny("AssociateNotEligible")
    [items] = get(make_settings(api), asins(12), mono=Mono())
    assert {i.failure for i in items.values()} == {"amazon_auth"}
    assert "not eligible" in (items[asins(1)[0]].error or "")
    assert statuses(api) == [403]  # the second batch was not sent


def test_an_unreachable_api_is_an_amazon_error(api: FakeCreatorsApi) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(api, api_url=f"http://127.0.0.1:{port}", retries=1)
    [items] = get(settings, asins(2), mono=Mono())
    assert {i.failure for i in items.values()} == {"amazon_error"}
    assert "ConnectError" in (items[asins(1)[0]].error or "")


# ------------------------------------------------------------------------------ mapping


AVAILABILITY_TABLE = [
    ("IN_STOCK", Availability.InStock),
    ("IN_STOCK_SCARCE", Availability.LimitedAvailability),
    ("OUT_OF_STOCK", Availability.OutOfStock),
    ("UNAVAILABLE", Availability.OutOfStock),
    ("PREORDER", Availability.PreOrder),
    ("LEADTIME", Availability.BackOrder),
    ("AVAILABLE_DATE", Availability.BackOrder),
    ("UNKNOWN", None),
]


def test_availability_mapping() -> None:
    codes = asins(len(AVAILABILITY_TABLE))
    items = [
        FakeItem(code, f"Item {kind}", Decimal("10.00"), availability=kind)
        for code, (kind, _) in zip(codes, AVAILABILITY_TABLE, strict=True)
    ]
    with FakeCreatorsApi(items) as api:
        [found] = get(make_settings(api), codes, mono=Mono())
    got = {
        kind: found[code].offer.availability if found[code].offer else "missing"
        for code, (kind, _) in zip(codes, AVAILABILITY_TABLE, strict=True)
    }
    assert got == dict(AVAILABILITY_TABLE)


def test_map_hides_the_price_but_keeps_availability(api: FakeCreatorsApi) -> None:
    code = asins(1)[0]
    api.set_item(code, violates_map=True, availability="IN_STOCK_SCARCE")
    [items] = get(make_settings(api), [code], mono=Mono())
    item = items[code]
    assert item.ok and item.violates_map and item.offer is not None
    assert item.offer.status is PageStatus.no_price
    assert item.offer.price is None and item.offer.currency is None
    assert item.offer.availability is Availability.LimitedAvailability
    assert item.offer.reason == MAP_REASON
    assert item.detail_page_url is not None


def test_listings_buy_box_first_and_none_means_out_of_stock(api: FakeCreatorsApi) -> None:
    a, b, c = asins(3)
    api.set_item(a, price=Decimal("80.00"), other_price=Decimal("70.00"))  # other listed first
    api.set_item(b, price=Decimal("90.00"), other_price=Decimal("85.00"), buy_box=False)
    api.set_item(c, featured=False)
    [items] = get(make_settings(api), [a, b, c], mono=Mono())
    assert items[a].offer is not None and items[a].offer.price == Decimal("80.00")
    assert items[b].offer is not None and items[b].offer.price == Decimal("85.00")  # the first
    offer = items[c].offer
    assert offer is not None and offer.status is PageStatus.no_price and offer.price is None
    assert offer.availability is Availability.OutOfStock


def test_item_fields_and_the_buy_link(api: FakeCreatorsApi) -> None:
    code = asins(1)[0]
    [items] = get(make_settings(api), [code], mono=Mono())
    item = items[code]
    assert item.offer is not None
    assert item.offer.title == "Amplifier 0" and item.offer.method == "amazon-api"
    assert item.offer.currency == "USD"
    assert (
        item.detail_page_url
        == f"https://www.amazon.com/dp/{code}?tag={TAG}&linkCode=ogi&th=1&psc=1"
    )
    assert (item.merchant, item.condition, item.marketplace) == ("Amazon.com", "New", US)


def test_item_results_key_is_accepted() -> None:
    with FakeCreatorsApi(catalogue(asins(2)), result_key="itemResults") as api:
        [items] = get(make_settings(api), asins(2), mono=Mono())
    assert all(item.ok and item.offer and item.offer.price for item in items.values())


@pytest.mark.parametrize(
    ("price", "currency"),
    [("59.49", "USD"), ("0.10", "USD"), ("1299.99", "GBP"), ("19800", "JPY"), ("0.3", "EUR")],
)
def test_prices_stay_exact_decimals(price: str, currency: str) -> None:
    code = asins(1)[0]
    with FakeCreatorsApi([FakeItem(code, "X", Decimal(price), currency=currency)]) as api:
        [items] = get(make_settings(api), [code], mono=Mono())
    offer = items[code].offer
    assert offer is not None and isinstance(offer.price, Decimal)
    assert str(offer.price) == price and offer.currency == currency


# ------------------------------------------------------------------------------ secrets


def test_the_secret_never_shows(api: FakeCreatorsApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(api, credential_secret="s3cr3t-value-XYZ")
    [items] = get(settings, asins(2), mono=Mono())  # the fake refuses this secret
    item = items[asins(1)[0]]
    assert item.failure == "amazon_auth"
    assert "TRACKER_AMAZON_SECRET" in (item.error or "")
    assert "amazon.credential_id" in (item.error or "")
    shown = [repr(settings), str(settings), repr(item), caplog.text]
    shown.append(repr(CreatorsClient(settings=settings)))
    assert not any("s3cr3t-value-XYZ" in text for text in shown)


def test_tokens_never_show_in_logs(api: FakeCreatorsApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.expire_tokens()
    api.throttle(1)
    get(make_settings(api), asins(2), mono=Mono())
    tokens = {r.headers["authorization"].split()[1].rstrip(",") for r in api.get_items_requests}
    assert tokens and not any(token in caplog.text for token in tokens)
    assert SECRET not in caplog.text


# ------------------------------------------------------------------------------ config


ENV = {"TRACKER_AMAZON_SECRET": "the-secret", "OTHER_SECRET": "other-secret"}
GOOD: dict[str, Any] = {
    "credential_id": "amzn-id",
    "credential_version": "2.1",
    "partner_tags": {"www.amazon.com": "guide-20", "amazon.ca": "guide-ca-20"},
}


def test_parse_amazon_settings() -> None:
    settings = parse_amazon_settings(GOOD, environ=ENV)
    assert settings.credential_secret == "the-secret"
    assert settings.partner_tags == {"www.amazon.com": "guide-20", "www.amazon.ca": "guide-ca-20"}
    assert (settings.rate, settings.batch_size, settings.retries) == (1.0, 10, 3)
    assert settings.api_url == "https://creatorsapi.amazon" and settings.token_url is None
    assert settings.partner_tag("smile.amazon.com") == "guide-20"
    custom = parse_amazon_settings(
        GOOD
        | {
            "credential_version": 3.1,  # a TOML float is accepted
            "credential_secret_env": "OTHER_SECRET",
            "rate": 2,
            "token_url": "http://127.0.0.1:9/auth/o2/token",
        },
        environ=ENV,
    )
    assert custom.version == "3.1" and custom.lwa and custom.credential_secret == "other-secret"
    assert custom.rate == 2.0 and custom.token_endpoint == "http://127.0.0.1:9/auth/o2/token"
    assert "other-secret" not in repr(custom)


def test_a_partner_tag_outside_the_credentials_region_is_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = GOOD | {"partner_tags": {"www.amazon.com": "g-20", "www.amazon.de": "g-21"}}
    settings = parse_amazon_settings(data, environ=ENV)
    assert settings.partner_tag("amazon.de") == "g-21"
    assert 'amazon.partner_tags."www.amazon.de": www.amazon.de is in Amazon\'s EU region' in (
        caplog.text
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"credential_id": None}, "amazon.credential_id: is required"),
        ({"credential_id": 5}, "amazon.credential_id: must be a string"),
        (
            {"credential_version": "4.0"},
            "amazon.credential_version: must be one of 2.1, 2.2, 2.3, 3.1, 3.2, 3.3",
        ),
        ({"credential_version": None}, "amazon.credential_version: is required"),
        ({"credential_secret": "the-secret"}, "amazon.credential_secret: unknown key"),
        ({"credential_secret_env": "NOT_SET_ANYWHERE"}, "NOT_SET_ANYWHERE is not set"),
        ({"credential_secret_env": "has space"}, "amazon.credential_secret_env: must be"),
        ({"partner_tags": None}, "amazon.partner_tags: is required"),
        ({"partner_tags": {}}, "amazon.partner_tags: give the partner tag"),
        ({"partner_tags": {"www.example.com": "x-20"}}, 'amazon.partner_tags."www.example.com"'),
        ({"partner_tags": {"www.amazon.com": ""}}, 'amazon.partner_tags."www.amazon.com": must be'),
        ({"rate": 0}, "amazon.rate: must be more than 0"),
        ({"rate": True}, "amazon.rate: must be a number"),
        ({"batch_size": 11}, "amazon.batch_size: must be from 1 to 10"),
        ({"api_url": "creatorsapi.amazon"}, "amazon.api_url: must be an http(s) URL"),
    ],
)
def test_config_errors_name_the_key_path(change: dict[str, Any], message: str) -> None:
    data = {k: v for k, v in (GOOD | change).items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        parse_amazon_settings(data, environ=ENV)
    assert message in str(caught.value)
    assert "the-secret" not in str(caught.value)


def test_a_missing_secret_says_which_variable_to_set() -> None:
    with pytest.raises(
        ConfigError, match=r"^amazon\.credential_secret_env: .*TRACKER_AMAZON_SECRET"
    ):
        parse_amazon_settings(GOOD, environ={})
    with pytest.raises(ConfigError, match=r"^site\.amazon\.rate: "):
        parse_amazon_settings(GOOD | {"rate": -1}, key="site.amazon", environ=ENV)


# ------------------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.amazon.com/dp/B00MNV8E0C", ("B00MNV8E0C", "www.amazon.com")),
        ("https://amazon.com/dp/B00MNV8E0C/", ("B00MNV8E0C", "www.amazon.com")),
        ("https://smile.amazon.com/dp/b00mnv8e0c?th=1", ("B00MNV8E0C", "www.amazon.com")),
        (
            "https://www.amazon.com/Topping-L50-Headphone-Amplifier/dp/B0BTHL8D6L/ref=sr_1_3?k=x",
            ("B0BTHL8D6L", "www.amazon.com"),
        ),
        ("https://www.amazon.com/gp/product/B00MNV8E0C?psc=1", ("B00MNV8E0C", "www.amazon.com")),
        ("https://www.amazon.co.uk/dp/B00MNV8E0C", ("B00MNV8E0C", "www.amazon.co.uk")),
        ("https://www.amazon.de/-/en/dp/B00MNV8E0C", ("B00MNV8E0C", "www.amazon.de")),
        ("https://www.amazon.co.jp/gp/product/4088820150", ("4088820150", "www.amazon.co.jp")),
        ("http://amazon.ca/x/dp/B00MNV8E0C#reviews", ("B00MNV8E0C", "www.amazon.ca")),
        ("https://www.amazon.com.au/dp/B00MNV8E0C", ("B00MNV8E0C", "www.amazon.com.au")),
        ("https://m.amazon.com/gp/aw/d/B00MNV8E0C", ("B00MNV8E0C", "www.amazon.com")),
        ("https://www.amazon.com/s?k=headphone+amp", None),
        ("https://www.amazon.com/dp/B00MNV8E0", None),  # 9 characters
        ("https://www.amazon.com/dp/B00MNV8E0CX", None),  # 11 characters
        ("https://amzn.to/3xYzAbC", None),
        ("https://www.notamazon.com/dp/B00MNV8E0C", None),
        ("https://amazon.example.com/dp/B00MNV8E0C", None),
        ("ftp://www.amazon.com/dp/B00MNV8E0C", None),
        ("not a url", None),
    ],
)
def test_asin_from_url(url: str, expected: tuple[str, str] | None) -> None:
    assert asin_from_url(url) == expected


def test_marketplace_of_and_is_amazon_url() -> None:
    assert marketplace_of("amazon.co.uk") == "www.amazon.co.uk"
    assert marketplace_of("SMILE.Amazon.COM.") == "www.amazon.com"
    assert marketplace_of("www.amazon.com.br") == "www.amazon.com.br"
    assert marketplace_of("shop.example") is None
    assert is_amazon_url("https://www.amazon.fr/dp/B00MNV8E0C")
    assert is_amazon_url("HTTPS://SMILE.AMAZON.CO.UK/dp/B00MNV8E0C")  # a shouting URL too
    assert not is_amazon_url("https://shop.example/amazon.com")
    assert not is_amazon_url("https://amazon.shop.example/dp/B00MNV8E0C")
    assert not is_amazon_url("ftp://www.amazon.com/dp/B00MNV8E0C")
