"""Signed provider traffic for a running stack, and checking what became of it.

:mod:`.traffic` plans customers and messages and builds the exact signed
requests providers send; :mod:`.senders` delivers them the way providers do
(retrying until a 2xx); :mod:`.audit` reads the public topics and the history
database and counts what was lost, duplicated, split, double-assigned or
left unrouted. The soak-and-fault test and ``bench/soak`` are built on it.
"""
