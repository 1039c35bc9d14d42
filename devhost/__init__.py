"""Local stand-in for the Azure Functions host (never deployed).

It loads the project's ``function_app.app`` and runs the very function objects Azure runs:
HTTP triggers behind a real ASGI server, queue triggers from Azurite's queues with the real
host's retry and poison rules, blob triggers from new blobs, timers on their NCRONTAB schedule.
``devhost.stack`` starts the local services those functions talk to.
"""
