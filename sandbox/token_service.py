"""A loopback Bot Framework token service (the `OAuthUrl`): filled in with the sign-in fallback."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .bot_token import BotTokenCheck


@dataclass
class TokenService:
    auth: BotTokenCheck
    base_url: str = ""

    def app(self) -> web.Application:
        return web.Application()
