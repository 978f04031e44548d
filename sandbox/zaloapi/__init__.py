"""A local Zalo Bot API server, and people who talk to its bots, for tests and the demo.

Built to the contract in docs/zalo.md: ``POST /bot<token>/<method>`` with a JSON body, the
``{ok, result}`` / ``{ok: false, error_code, description}`` envelope, ``getUpdates`` that
hands out one update at a time (and 408 when none came in time), webhooks posted with the
``X-Bot-Api-Secret-Token`` header, texts of 1 to 2,000 characters, 429 past a sending rate,
403 to a person who blocked the bot or never wrote to it::

    api = LocalZaloApi()
    await api.start()                          # 127.0.0.1, a free port
    api.add_bot("1459232241454765289:SECRET")
    lan = api.user("1459232241454765289:SECRET", "e4ea2cd5189df1c3a88c", "Lan")
    key = await lan.send("/start ABCD-EFGH")   # the update's key: "zalo:<message_id>"
    print(lan.texts())
    await api.stop()
"""

from sandbox.zaloapi.server import LocalZaloApi, ZaloUser, ZaloUserMessage

__all__ = ["LocalZaloApi", "ZaloUser", "ZaloUserMessage"]
