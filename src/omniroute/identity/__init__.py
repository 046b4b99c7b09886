"""Identity: channel addresses normalized, unified into customers, merged and split.

Pure modules (no Kafka, no faust): :mod:`.addresses` normalizes what providers
send, :mod:`.customers` derives stable customer ids and drops provider retries,
:mod:`.graph` merges and splits customers from link claims. The stream shell
lives in :mod:`omniroute.worker`.
"""
