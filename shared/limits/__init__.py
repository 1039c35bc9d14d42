"""Upload admission: per-user limits shared by every instance, and each instance's memory.

- **Per user** (``UserLimiter``): at most ``MAX_USER_CONCURRENT_UPLOADS`` uploads in
  progress and ``MAX_USER_UPLOADS_PER_MINUTE`` new uploads a minute. With ``REDIS_URL`` the
  counts live in Redis (``shared.limits.redis``: one Lua script, so instances cannot race),
  otherwise in this process (``shared.limits.local``). A slot is a lease that lives
  ``UPLOAD_LEASE_SECONDS`` and is renewed while its upload runs: an instance that dies frees
  its slots within that time.
- **Per instance** (``MemoryBudget``): uploads are admitted by the bytes they may hold in
  memory (their length, at most three storage blocks) against ``UPLOAD_MEMORY_BUDGET``, so many
  small uploads pass while a few large ones are bounded; ``MAX_CONCURRENT_UPLOADS`` stays as a
  backstop on the count.

Refusals are 429 ``RATE_LIMIT_EXCEEDED`` with ``Retry-After`` (seconds) and, in ``details``,
which limit was reached.
"""

from shared.limits.admission import Admission, UploadKind, admit_upload, memory_need
from shared.limits.base import Refusal, UserLimiter
from shared.limits.local import LocalUserLimiter, MemoryBudget

__all__ = ["Admission", "LocalUserLimiter", "MemoryBudget", "Refusal", "UploadKind",
           "UserLimiter", "admit_upload", "memory_need"]
