"""Local stand-in for the Azure Functions host (never deployed).

It loads the project's ``function_app.app``, indexes it as the Python worker does (refusing
what the worker refuses), and runs the very function objects Azure runs: HTTP triggers routed
as the host routes them, queue triggers from Azurite's queues with the host's retry and poison
rules, blob triggers by container scan or through an emulated Event Grid, timers on their
NCRONTAB schedule, all within host.json's ``functionTimeout``. ``devhost.stack`` starts the
local services those functions talk to.
"""
