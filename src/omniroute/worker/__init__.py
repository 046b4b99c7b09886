"""The stream-processing worker: one faust application, processors registered on it.

:mod:`.app` builds the application and the :class:`~.app.Worker` handle that
processors use (topics and tables in the deployment's namespace, sending, dead
letters); :mod:`.identity` and :mod:`.conversations` register omniroute's
identity and threading agents; :mod:`.bootstrap` runs it all as ``omniroute
worker``.
"""
