"""In-memory stand-ins for the context's adapters (database, queues), held to the same
contract tests as the real ones; ``context.fake_context`` assembles an ``AppContext``."""
