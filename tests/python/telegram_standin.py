"""A loopback stand-in for the Telegram Bot API, so the framework tests send nothing off the
machine: answers ``/bot<token>/<method>`` (JSON, form or multipart bodies) with plausible
results and records every call for the test to inspect."""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

BOT_ID = 7000001
TOKEN = f"{BOT_ID}:standin-token"


def _value(raw: str) -> Any:
    # The frameworks send form fields JSON-encoded (`true`, `{"..."}`) or as plain text.
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _params(content_type: str, body: bytes) -> Dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return dict(json.loads(body))
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        return {
            part.get_param("name", header="content-disposition"): _value(part.get_content())
            for part in msg.iter_parts()
        }
    return {k: _value(v) for k, v in urllib.parse.parse_qsl(body.decode())}


class TelegramStandIn:
    def __init__(self) -> None:
        self.calls: List[Tuple[str, Dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._message_id = 1000
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                path = urllib.parse.urlparse(self.path).path
                method = path.rsplit("/", 1)[-1]
                length = int(self.headers.get("Content-Length") or 0)
                params = _params(self.headers.get("Content-Type", ""), self.rfile.read(length))
                body = json.dumps({"ok": True, "result": standin._result(method, params)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _result(self, method: str, params: Dict[str, Any]) -> Any:
        with self._lock:
            self.calls.append((method, params))
            self._message_id += 1
            message_id = self._message_id
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Stand-in", "username": "standin_bot",
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if method in ("sendMessage", "sendInvoice"):
            chat_id = params.get("chat_id")
            return {"message_id": message_id, "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"}, "text": params.get("text", "")}
        if method == "getUpdates":
            return []
        return True

    def called(self, method: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [p for m, p in self.calls if m == method]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def update(update_id: int, **fields: Any) -> Dict[str, Any]:
    """A Bot API ``Update`` as JSON: ``update(1, message=...)``."""
    return {"update_id": update_id, **fields}


def user(user_id: int) -> Dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Buyer"}


def message(user_id: int, message_id: int, **fields: Any) -> Dict[str, Any]:
    return {"message_id": message_id, "date": int(time.time()), "from": user(user_id),
            "chat": {"id": user_id, "type": "private", "first_name": "Buyer"}, **fields}


def text_message(user_id: int, message_id: int, text: str) -> Dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
    return message(user_id, message_id, text=text, entities=entities)


def pre_checkout_query(user_id: int, query_id: str, stars: int, payload: str, currency: str = "XTR") -> Dict[str, Any]:
    return {"id": query_id, "from": user(user_id), "currency": currency, "total_amount": stars,
            "invoice_payload": payload}


def successful_payment(user_id: int, message_id: int, stars: int, charge_id: str, payload: str) -> Dict[str, Any]:
    return message(user_id, message_id, successful_payment={
        "currency": "XTR", "total_amount": stars, "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id, "provider_payment_charge_id": ""})


def refunded_payment(user_id: int, message_id: int, stars: int, charge_id: str, payload: str) -> Dict[str, Any]:
    return message(user_id, message_id, refunded_payment={
        "currency": "XTR", "total_amount": stars, "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id})
