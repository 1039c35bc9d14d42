"""The CDN as clients see it: purge requests (``POST /cdn/purge``, carried out by the
``cdn-purge`` queue's worker) and statistics (``GET /cdn/stats``), over the providers of
``shared.cdn``."""
