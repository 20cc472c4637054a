"""Which resources each environment picks, and how settings are read and refused."""

from __future__ import annotations

import pytest

from ops_assets import environments
from ops_assets.environments import (
    REQUIRED_IN_AWS,
    SettingsError,
    parse_company_names,
    parse_feeds,
    parse_tickers,
    resources_for,
)
from resources.rss import RssFetcher
from resources.sample_sources.resources import (
    SAMPLE_FEED_URLS,
    SAMPLE_WATCHED_TICKERS,
    SampleAlphaVantageResource,
    SampleRssFetcher,
)

AWS_SETTINGS = {
    "OPS_BUCKET": "bucket",
    "OPS_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:topic",
    "OPS_CENTRAL_STORE_URL": "postgresql+psycopg2://ops@db.internal/ops",
    "OPS_NEWS_FEEDS": "wire=https://news.example.com/rss.xml desk=https://desk.example.com/atom?x=1",
    "OPS_MARKETS_WATCHED_TICKERS": "aapl, MSFT",
    "OPS_REDIS_HOST": "redis.internal",
    "OPS_TT_API_URL": "https://tt.example.com",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*AWS_SETTINGS, *environments.RENAMED, "ALPHA_VANTAGE_API_KEY", "OPS_NEWS_COMPANY_NAMES"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_local_defaults_are_the_offline_samples(clean_env, local_env) -> None:
    found = resources_for("local")
    assert isinstance(found["alpha_vantage"], SampleAlphaVantageResource)
    assert isinstance(found["rss_fetcher"], SampleRssFetcher)
    assert found["news_settings"].feeds == SAMPLE_FEED_URLS
    assert found["markets_settings"].watched_tickers == SAMPLE_WATCHED_TICKERS


def test_local_with_a_real_key_watches_no_sample_ticker(clean_env, local_env) -> None:
    clean_env.setenv("ALPHA_VANTAGE_API_KEY", "a-real-key")
    # The sample tickers do not exist at the real provider; market_telemetry says what to set.
    assert resources_for("local")["markets_settings"].watched_tickers == []
    clean_env.setenv("OPS_MARKETS_WATCHED_TICKERS", "AAPL")
    found = resources_for("local")
    assert not isinstance(found["alpha_vantage"], SampleAlphaVantageResource)
    assert found["markets_settings"].watched_tickers == ["AAPL"]


def test_aws_has_no_sample_default_and_names_every_missing_setting(clean_env) -> None:
    with pytest.raises(SettingsError) as info:
        resources_for("aws")
    for name in REQUIRED_IN_AWS:
        assert f"{name} is not set" in str(info.value)


def test_aws_reads_every_source_from_the_environment(clean_env) -> None:
    for name, value in AWS_SETTINGS.items():
        clean_env.setenv(name, value)
    clean_env.setenv("OPS_NEWS_COMPANY_NAMES", '{"aapl": "Apple Inc"}')
    found = resources_for("aws")
    assert type(found["rss_fetcher"]) is RssFetcher
    assert not isinstance(found["alpha_vantage"], SampleAlphaVantageResource)
    assert found["news_settings"].feeds == {
        "wire": "https://news.example.com/rss.xml",
        "desk": "https://desk.example.com/atom?x=1",
    }
    assert found["news_settings"].company_names == {"AAPL": "Apple Inc"}
    assert found["markets_settings"].watched_tickers == ["AAPL", "MSFT"]


def test_a_renamed_setting_stops_the_load(clean_env, local_env) -> None:
    clean_env.setenv("AVPIPELINE_MAX_TICKERS", "3")
    with pytest.raises(SettingsError, match="AVPIPELINE_MAX_TICKERS is now called OPS_FUNDAMENTALS_MAX_TICKERS"):
        resources_for("local")


def test_an_unreadable_setting_names_its_variable(clean_env, local_env) -> None:
    clean_env.setenv("OPS_NEWS_FEEDS", "just-a-url-without-a-name")
    with pytest.raises(SettingsError, match="OPS_NEWS_FEEDS cannot be read"):
        resources_for("local")
    clean_env.setenv("OPS_NEWS_FEEDS", "wire=https://x.example/rss")
    clean_env.setenv("OPS_NEWS_COMPANY_NAMES", "Apple")
    with pytest.raises(SettingsError, match="OPS_NEWS_COMPANY_NAMES cannot be read"):
        resources_for("local")


def test_setting_parsers() -> None:
    assert parse_feeds('{"a": "https://x/rss,1"}') == {"a": "https://x/rss,1"}
    assert parse_feeds("a=https://x/rss?cat=a,lang=en;b=https://y/atom\nc=http://z/feed") == {
        "a": "https://x/rss?cat=a,lang=en",  # a comma belongs to the URL
        "b": "https://y/atom",
        "c": "http://z/feed",
    }
    assert parse_tickers("AAPL, MSFT\nNVDA") == ["AAPL", "MSFT", "NVDA"]
    assert parse_company_names('{"brk-b": "Berkshire Hathaway"}') == {"BRK-B": "Berkshire Hathaway"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"a": ["https://x/rss"]}', "JSON object"),
        ("{}", "no feed is named"),
        ("a=https://x/rss b=https://y/rss a=https://z/rss", "feed 'a' is named twice"),
        ("a=ftp://x/rss", "ftp://x is not an http"),
        ("a=file:///etc/passwd", "file:// is not an http"),
        ("https://x/rss?token=s3cret", "is not name=url"),
    ],
)
def test_bad_feed_settings_are_refused_without_echoing_secrets(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_feeds(raw)
    assert "s3cret" not in str(info.value)


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_ENV", "prod")
    with pytest.raises(SettingsError, match="OPS_ENV='prod' is not one of local, aws"):
        environments.current_environment()
