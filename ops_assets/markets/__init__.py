"""Market telemetry: 5-minute OHLCV bars per ticker from a market data provider into ``lane_telemetry``."""
