"""Trading-desk feed: Actant market-data / EOD / SOD files and TT working-order snapshots -> Redis + history.

Plain modules (no Dagster): :mod:`ops_assets.desk.files` says what a bucket key is (routing by prefix, the
archive / quarantine / snapshot keys) and :mod:`ops_assets.desk.parsing` turns a file's bytes into typed rows or
refuses the whole file with the line and column at fault.
"""
