"""Domain package of the Support Storage Service.

Every function (HTTP, blob, queue, timer) uses this package; it never imports
``azure.functions`` so that it can be used and tested without the Functions host.
"""

SERVICE_NAME = "support-storage-service"
SERVICE_VERSION = "1.0.0"
