"""Dead letters for operators: list, inspect and replay what a processor refused.

The history sink keeps every record of ``omniroute.dlq.v1`` in the
``dead_letters`` table with the original key and bytes; :mod:`.ledger` reads
them and replays one exactly once (``dead_letter_replays``).
"""
