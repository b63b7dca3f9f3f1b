"""A loopback Bot Connector (the Teams side of `serviceUrl`).

Serves the REST subset of https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference:
create conversation (a new channel thread, or a 1:1 chat with
someone the app is installed for), send, reply, update, delete, and members: non-paged (with `objectId`), paged
(`continuationToken`, 50 to 500 a page) and one by id (both with `aadObjectId`); a personal chat lists its one person, and
a test may set any chat's roster (`/sandbox/conversations/{id}/members`).
The app's installations per person are kept here, as Teams keeps them (`/sandbox/installations`).
Every call is recorded so tests can assert what the bot posted. Teams' documented rate limits (per bot per
thread, per thread for all bots, 50 requests a second per app) are enforced by default and answered 429 with
`Retry-After` (`limits`); more 429s can be injected. Every /v3 call must carry the bot's Entra token for
`https://api.botframework.com` (sandbox/bot_token.py); without one it is answered 401 and not performed.

Modules: `core` (state, controls, the gate every call passes), `limits` (Teams' rate limits), `roster` (members,
rosters, installations), `records` (calls, activities, answers), `simulator` (conversations and activities), `kept` (the
conversations kept on disk between two runs of `make run`, as Teams keeps them).
"""

from .records import ConnectorCall, PostedActivity
from .simulator import ConnectorSimulator

__all__ = ["ConnectorCall", "ConnectorSimulator", "PostedActivity"]
