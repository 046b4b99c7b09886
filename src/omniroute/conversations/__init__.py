"""Conversations: threading a customer's messages, across channels, into one conversation.

Pure modules: :mod:`.state` holds what is remembered per customer,
:mod:`.threading` decides (join, reopen, open, fold on merge) and returns the
events and routing requests to emit. The stream shell lives in
:mod:`omniroute.worker`.
"""
